function (doc) {
  // Per label, module, status, site and RAT version, emitted twice: under "label" (label first) and under
  // "module" (module first, for --module globs): [passes, events requested, events of completed passes,
  // live seconds requested, live seconds of completed passes, run seconds, run seconds squared,
  // passes with a run time]. Summed (_sum adds arrays element by element), so gasp summary
  // reads a few rows at any campaign size.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    var amount = pass.amount || {};
    var events = amount.events || 0;
    var seconds = amount.seconds || 0;
    var done = pass.status === 'completed';
    var last = pass.attempts && pass.attempts.length ? pass.attempts[pass.attempts.length - 1] : null;
    var run = last && last.finished && last.started ? (Date.parse(last.finished) - Date.parse(last.started)) / 1000 : -1;
    var site = pass.site || (last ? last.site : null) || '-';
    var sums = [1, events, done ? events : 0, seconds, done ? seconds : 0, run >= 0 ? run : 0, run >= 0 ? run * run : 0, run >= 0 ? 1 : 0];
    emit(['label', pass.label, doc.module, pass.status, site, pass.rat_version], sums);
    emit(['module', doc.module, pass.label, pass.status, site, pass.rat_version], sums);
  }
}
