function (doc) {
  if (doc.type !== 'data') return;
  var labels = typeof doc.label === 'string' ? [doc.label] : doc.label || [];
  for (var i = 0; i < labels.length; i++) emit([labels[i], doc.module, doc.run, doc.pass, doc.data_type], doc.files ? doc.files.length : 0);
}
