function (doc) {
  // One row per file with a GUID, so a GridTools list's GUIDs are looked up many in one request (keys = a list of them).
  // Keyed without the 'guid:' prefix GASP's documents may store (lcg-utils' form), as lists are read.
  if (doc.type !== 'data' || !doc.files) return;
  for (var i = 0; i < doc.files.length; i++) {
    var file = doc.files[i];
    if (file && file.guid) emit(String(file.guid).replace(/^guid:/, ''), file.name);
  }
}
