function (doc) {
  if (doc.type !== 'production_information') return;
  emit(doc.rat_version, null);
}
