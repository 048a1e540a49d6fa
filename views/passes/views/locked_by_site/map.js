function (doc) {
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (!pass.site) continue;
    emit([pass.site, pass.status, doc.module, doc.run, pass.pass], null);
  }
}
