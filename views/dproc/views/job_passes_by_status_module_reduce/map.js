function (doc) {
  // For the SNO+ monitoring pages: one row per pass, [status, module, rat_version, label]; counted,
  // group_level 1 gives passes per status, 2 per status and module. An older document's list of
  // labels counts once, under its first.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (!pass || typeof pass.status !== 'string') continue;
    var label = typeof pass.label === 'string' ? pass.label : pass.label && pass.label[0];
    emit([pass.status, doc.module, pass.rat_version || null, label || null], null);
  }
}
