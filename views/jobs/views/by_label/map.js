function (doc) {
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    // GASP's older documents may list several labels: the pass is found under each
    var labels = typeof pass.label === 'string' ? [pass.label] : pass.label || [];
    for (var j = 0; j < labels.length; j++) emit([labels[j], doc.module, doc.run, pass.pass], pass.status);
  }
}
