function (doc) {
  // Ended passes in the order they ended, under their label and under their site, with the first
  // failing exit code: the client reads a label's last few to pause it when most failed (auto-pause),
  // and a site's last few to quarantine itself when its set-up or staging keeps failing.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'completed' && pass.status !== 'failed' && pass.status !== 'partFail') continue;
    var last = pass.attempts && pass.attempts.length ? pass.attempts[pass.attempts.length - 1] : null;
    var finished = last && last.finished ? last.finished : '';
    var code = null;
    var subjobs = pass.subjobs || [];
    for (var j = 0; j < subjobs.length; j++) if (code === null && subjobs[j].exit_code) code = subjobs[j].exit_code;
    var site = pass.site || (last ? last.site : null);
    emit(['label', pass.label, finished], [pass.status, code]);
    if (site) emit(['site', site, finished], [pass.status, code]);
  }
}
