#!/usr/bin/env bash
# Starts a single-node Slurm with accounting (sacct) on localhost, for the Slurm backend tests.
# Run as root (CI does, from .ci/run): installs Debian's slurm-wlm, slurmdbd, munge and mariadb-server
# if missing, configures them for this host and starts them. Safe to run again.
# Without slurmdbd, sacct answers "Slurm accounting storage is disabled"; finished jobs are then
# visible only through `scontrol show job ID` for MinJobAge seconds.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=""
for c in slurmctld slurmd slurmdbd munged mariadbd; do command -v $c >/dev/null || need=1; done
if [ -n "$need" ]; then apt-get update -qq; apt-get install -y -qq slurm-wlm slurmdbd munge mariadb-server >/dev/null; fi

# munge: a key, and the daemon running as the munge user
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge; chown munge:munge /run/munge /var/log/munge /var/lib/munge
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged

# MariaDB for slurmdbd
mkdir -p /run/mysqld; chown mysql:mysql /run/mysqld
if ! mysqladmin ping >/dev/null 2>&1; then (mysqld_safe --user=mysql >/var/log/mysqld-safe.log 2>&1 &); fi
for i in $(seq 1 30); do mysqladmin ping >/dev/null 2>&1 && break; sleep 1; done
mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db; CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm-test-only'; ALTER USER 'slurm'@'localhost' IDENTIFIED BY 'slurm-test-only'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

host=$(hostname -s)
cpus=$(nproc)
mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm-test-only
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
CONF
chmod 600 /etc/slurm/slurmdbd.conf
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
pgrep -x slurmdbd >/dev/null || slurmdbd
for i in $(seq 1 30); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 1; done
sacctmgr -n list cluster format=cluster 2>/dev/null | grep -qw local || sacctmgr -i add cluster local >/dev/null
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for i in $(seq 1 30); do sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mixed|alloc' && break; sleep 1; done
sinfo
