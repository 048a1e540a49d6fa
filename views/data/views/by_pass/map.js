function (doc) {
  // One key per pass, so a tool reads the data documents of many passes in one request (keys = a list of them).
  if (doc.type !== 'data') return;
  emit([doc.module, doc.run, doc.pass], doc.data_type);
}
