function (doc) {
  // Ended passes under their label, in the order they ended, with the first failing exit code:
  // the client reads a label's last few to pause it when most failed (auto-pause). And every ended
  // attempt under its site (also the failed ones a policy resubmitted), with its exit code: a site
  // reads its last few to quarantine itself when its set-up or staging keeps failing.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    var attempts = pass.attempts || [];
    for (var k = 0; k < attempts.length; k++) {
      var attempt = attempts[k];
      if (attempt.site && (attempt.status === 'completed' || attempt.status === 'failed' || attempt.status === 'partFail')) {
        emit(['site', attempt.site, attempt.finished || ''], [attempt.status, attempt.exit_code === undefined ? null : attempt.exit_code]);
      }
    }
    if (pass.status !== 'completed' && pass.status !== 'failed' && pass.status !== 'partFail') continue;
    var last = attempts.length ? attempts[attempts.length - 1] : null;
    var code = null;
    var subjobs = pass.subjobs || [];
    for (var j = 0; j < subjobs.length; j++) if (code === null && subjobs[j].exit_code) code = subjobs[j].exit_code;
    var labels = typeof pass.label === 'string' ? [pass.label] : pass.label || [];
    for (var l = 0; l < labels.length; l++) emit(['label', labels[l], last && last.finished ? last.finished : ''], [pass.status, code]);
  }
}
