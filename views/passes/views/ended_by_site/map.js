function (doc) {
  // Ended passes of each site in the order they ended, with the first failing exit code: a site
  // reads its last few to quarantine itself when set-up or staging keeps failing, and
  // gasp sites status shows each site's recent failures by exit-code class.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'completed' && pass.status !== 'failed' && pass.status !== 'partFail') continue;
    var last = pass.attempts && pass.attempts.length ? pass.attempts[pass.attempts.length - 1] : null;
    var site = pass.site || (last ? last.site : null);
    if (!site) continue;
    var code = null;
    var subjobs = pass.subjobs || [];
    for (var j = 0; j < subjobs.length; j++) if (code === null && subjobs[j].exit_code) code = subjobs[j].exit_code;
    emit([site, last && last.finished ? last.finished : ''], [pass.status, code]);
  }
}
