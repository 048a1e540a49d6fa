function (doc) {
  // For GridTools' list by module and run, and --exactly: [data_type, module, run, subrun, pass] ->
  // [name, size, guid, lfn, surls, adler32], as data_by_mod_pass_sr (which see); any RAT version.
  if (doc.type !== 'data' || !doc.files) return;
  var label = typeof doc.label === 'string' ? doc.label : doc.label && doc.label[0];
  for (var i = 0; i < doc.files.length; i++) {
    var file = doc.files[i];
    var replicas = file.replicas || [{ url: file.url }];
    var surls = [];
    for (var j = 0; j < replicas.length; j++) if (replicas[j].url && !replicas[j].missing) surls.push(replicas[j].url);
    if (surls.length === 0) continue;
    var lfn = file.lfn || '/' + label + '/' + doc.module + '/' + doc.run + '/' + doc.pass + '/' + file.name;
    emit([doc.data_type, doc.module, doc.run, file.subjob, doc.pass], [file.name, file.size, file.guid, lfn, surls, file.adler32]);
  }
}
