#!/usr/bin/env bash
# Installs Debian's XRootD server and clients (and gfal2's tools with their XRootD plugin) and
# starts a storage element on localhost for trying gasp by hand: root://127.0.0.1:11094//, data in
# /var/lib/gasp-se/data, server-side adler32. The tests start their own server per run
# (test/support/xrootd-server.ts). Run as root (CI does, from .ci/run); safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=""
for c in xrootd xrdcp xrdfs gfal-copy gfal-sum; do command -v $c >/dev/null || need=1; done
# the gfal scripts start /usr/bin/python: python-is-python3 provides it
[ -e /usr/bin/python ] || need=1
if [ -n "$need" ]; then
  apt-get update -qq
  apt-get install -y -qq xrootd-server xrootd-client gfal2-util-scripts gfal2-plugin-xrootd gfal2-plugin-file python-is-python3 >/dev/null
fi

port=11094
root=/var/lib/gasp-se
# probes answer within seconds: by default xrdfs retries a silent server for minutes
export XRD_CONNECTIONRETRY=1 XRD_CONNECTIONWINDOW=5 XRD_REQUESTTIMEOUT=10
probe() { timeout 20 xrdfs root://127.0.0.1:$port stat / >/dev/null 2>&1; }
if probe; then echo "XRootD already answers on root://127.0.0.1:$port"; exit 0; fi
mkdir -p $root/data $root/admin $root/run
cat > $root/xrootd.cfg <<CONF
all.export /
oss.localroot $root/data
xrd.port $port
xrootd.chksum adler32
all.adminpath $root/admin
all.pidpath $root/run
CONF
# xrootd refuses to run as root: it runs as the package's xrootd user, who must own its folders;
# in the foreground under setsid with its output in a file (with -b it can die silently)
chown -R xrootd:xrootd $root
setsid nohup xrootd -R xrootd -c $root/xrootd.cfg >$root/xrootd.log 2>&1 < /dev/null &
for i in $(seq 1 30); do probe && break; sleep 0.5; done
probe && echo "XRootD answers on root://127.0.0.1:$port (data in $root/data)"
