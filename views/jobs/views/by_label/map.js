function (doc) {
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    emit([pass.label, doc.module, doc.run, pass.pass], pass.status);
  }
}
