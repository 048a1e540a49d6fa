function (doc) {
  // Ended passes of each label in the order they ended, with the first failing exit code: the
  // client reads the last few of a label to pause it when most of them failed.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'completed' && pass.status !== 'failed' && pass.status !== 'partFail') continue;
    var last = pass.attempts && pass.attempts.length ? pass.attempts[pass.attempts.length - 1] : null;
    var code = null;
    var subjobs = pass.subjobs || [];
    for (var j = 0; j < subjobs.length; j++) if (code === null && subjobs[j].exit_code) code = subjobs[j].exit_code;
    emit([pass.label, last && last.finished ? last.finished : ''], [pass.status, code]);
  }
}
