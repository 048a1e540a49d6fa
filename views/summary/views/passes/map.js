function (doc) {
  // Per label, module, status, site and RAT version, emitted twice: under "label" (label first) and under
  // "module" (module first, for --module globs): [passes, events requested, events of completed passes,
  // live seconds requested, live seconds of completed passes, run seconds, run seconds squared,
  // passes with a run time]. Summed (_sum adds arrays element by element), so gasp summary
  // reads a few rows at any campaign size. The run time of an ended pass is its jobs' own, from
  // the wrapper's start to its end (first start to last end over its subjobs); only where no job
  // recorded its own times, the attempt's (claim to the end the client saw, which counts the
  // queue and the poll interval).
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    var amount = pass.amount || {};
    var events = amount.events || 0;
    var seconds = amount.seconds || 0;
    var done = pass.status === 'completed';
    var last = pass.attempts && pass.attempts.length ? pass.attempts[pass.attempts.length - 1] : null;
    var run = -1;
    if (last && last.finished && last.started) {
      var first = null;
      var end = null;
      var subjobs = pass.subjobs || [];
      for (var j = 0; j < subjobs.length; j++) {
        var ran = subjobs[j].ran;
        if (!ran || !ran.started || !ran.finished) continue;
        if (first === null || ran.started < first) first = ran.started;
        if (end === null || ran.finished > end) end = ran.finished;
      }
      run = (Date.parse(first === null ? last.finished : end) - Date.parse(first === null ? last.started : first)) / 1000;
    }
    var site = pass.site || (last ? last.site : null) || '-';
    var sums = [1, events, done ? events : 0, seconds, done ? seconds : 0, run >= 0 ? run : 0, run >= 0 ? run * run : 0, run >= 0 ? 1 : 0];
    // a pass of several labels (GASP's older documents) counts under each label, and once by module
    var labels = typeof pass.label === 'string' ? [pass.label] : pass.label || [];
    for (var l = 0; l < labels.length; l++) emit(['label', labels[l], doc.module, pass.status, site, pass.rat_version], sums);
    emit(['module', doc.module, labels[0], pass.status, site, pass.rat_version], sums);
  }
}
