function (doc) {
  if (doc.type !== 'data') return;
  emit([doc.label, doc.module, doc.run, doc.pass, doc.data_type], doc.files ? doc.files.length : 0);
}
