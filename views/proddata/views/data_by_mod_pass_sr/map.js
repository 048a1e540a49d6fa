function (doc) {
  // For GridTools (production_list, processing_list, production_info), one row per file:
  // [data_type, module, rat_version, pass, run, subrun] -> [name, size, guid, lfn, surls, adler32].
  // surls are the URLs of the file's copies not marked missing (gasp verify); a file with none is
  // left out. Documents without a RAT version (before gasp recorded it; gasp migrate adds it) are left out.
  if (doc.type !== 'data' || !doc.files || typeof doc.rat_version !== 'string') return;
  var label = typeof doc.label === 'string' ? doc.label : doc.label && doc.label[0];
  for (var i = 0; i < doc.files.length; i++) {
    var file = doc.files[i];
    var replicas = file.replicas || [{ url: file.url }];
    var surls = [];
    for (var j = 0; j < replicas.length; j++) if (replicas[j].url && !replicas[j].missing) surls.push(replicas[j].url);
    if (surls.length === 0) continue;
    var lfn = file.lfn || '/' + label + '/' + doc.module + '/' + doc.run + '/' + doc.pass + '/' + file.name;
    emit(
      [doc.data_type, doc.module, doc.rat_version, doc.pass, doc.run, file.subjob],
      [file.name, file.size, file.guid, lfn, surls, file.adler32]
    );
  }
}
