function (doc) {
  if (doc.type !== 'run') return;
  emit(doc.run, { run_type: doc.run_type, subfiles: doc.subfiles ? doc.subfiles.length : 0 });
}
