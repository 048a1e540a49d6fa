function (doc) {
  if (doc.type !== 'data') return;
  emit([doc.module, doc.run, doc.pass, doc.data_type], doc.label);
}
