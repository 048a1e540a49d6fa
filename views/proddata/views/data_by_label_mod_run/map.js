function (doc) {
  // For GridTools' lists by label: [data_type, label, module, run, subrun, pass] -> [name, size, guid,
  // lfn, surls, adler32] as data_by_mod_pass_sr, one row per file and label as data_by_label.
  if (doc.type !== 'data' || !doc.files) return;
  var labels = typeof doc.label === 'string' ? [doc.label] : doc.label || [];
  for (var i = 0; i < doc.files.length; i++) {
    var file = doc.files[i];
    var replicas = file.replicas || [{ url: file.url }];
    var surls = [];
    for (var j = 0; j < replicas.length; j++) if (replicas[j].url && !replicas[j].missing) surls.push(replicas[j].url);
    if (surls.length === 0) continue;
    var lfn = file.lfn || '/' + labels[0] + '/' + doc.module + '/' + doc.run + '/' + doc.pass + '/' + file.name;
    for (var k = 0; k < labels.length; k++)
      emit(
        [doc.data_type, labels[k], doc.module, doc.run, file.subjob, doc.pass],
        [file.name, file.size, file.guid, lfn, surls, file.adler32]
      );
  }
}
