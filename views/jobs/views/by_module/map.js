function (doc) {
  // Runs per module in numeric order: the highest is where new generic runs start after.
  if (doc.type !== 'job') return;
  emit([doc.module, doc.run], null);
}
