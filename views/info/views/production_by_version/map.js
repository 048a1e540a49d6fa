function (doc) {
  if (doc.type !== 'production_information') return;
  emit(doc.rat_version, doc.modules ? Object.keys(doc.modules).length : 0);
}
