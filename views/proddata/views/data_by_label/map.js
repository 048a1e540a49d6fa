function (doc) {
  // For GridTools' lists by label: [data_type, label, module, run, subrun] -> [name, guid, adler32,
  // size, surls], one row per file and label (older documents may hold a list of labels). surls as in
  // data_by_mod_pass_sr: copies not marked missing; a file with none is left out.
  if (doc.type !== 'data' || !doc.files) return;
  var labels = typeof doc.label === 'string' ? [doc.label] : doc.label || [];
  for (var i = 0; i < doc.files.length; i++) {
    var file = doc.files[i];
    var replicas = file.replicas || [{ url: file.url }];
    var surls = [];
    for (var j = 0; j < replicas.length; j++) if (replicas[j].url && !replicas[j].missing) surls.push(replicas[j].url);
    if (surls.length === 0) continue;
    for (var k = 0; k < labels.length; k++)
      emit([doc.data_type, labels[k], doc.module, doc.run, file.subjob], [file.name, file.guid, file.adler32, file.size, surls]);
  }
}
