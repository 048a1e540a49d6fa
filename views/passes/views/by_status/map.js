function (doc) {
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    emit([doc.passes[i].status, doc.module], null);
  }
}
