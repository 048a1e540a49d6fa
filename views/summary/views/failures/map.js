function (doc) {
  // Failed passes by site, first failing exit code and label: the dashboard's failures chart.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'failed' && pass.status !== 'partFail') continue;
    var last = pass.attempts && pass.attempts.length ? pass.attempts[pass.attempts.length - 1] : null;
    var code = null;
    var subjobs = pass.subjobs || [];
    for (var j = 0; j < subjobs.length; j++) if (code === null && subjobs[j].exit_code) code = subjobs[j].exit_code;
    emit([pass.site || (last ? last.site : null) || '-', code === null ? 'none' : String(code), typeof pass.label === 'string' ? pass.label : (pass.label || [])[0]], 1);
  }
}
