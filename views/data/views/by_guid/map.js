function (doc) {
  // One row per file with a GUID, so a GridTools list's GUIDs are looked up many in one request (keys = a list of them).
  if (doc.type !== 'data' || !doc.files) return;
  for (var i = 0; i < doc.files.length; i++) {
    var file = doc.files[i];
    if (file && file.guid) emit(file.guid, file.name);
  }
}
