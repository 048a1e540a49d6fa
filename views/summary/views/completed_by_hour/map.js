function (doc) {
  // Completed passes by the hour they ended (UTC, "2026-11-23T17"): the dashboard's throughput line.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'completed') continue;
    var last = pass.attempts && pass.attempts.length ? pass.attempts[pass.attempts.length - 1] : null;
    if (last && last.finished) emit(last.finished.slice(0, 13), 1);
  }
}
