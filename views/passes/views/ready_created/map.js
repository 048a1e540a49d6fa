function (doc) {
  // Waiting passes no site holds, in submission order (serial).
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'waiting' || pass.site) continue;
    emit([pass.created, doc.run, doc.module, pass.pass], {
      module: doc.module, run: doc.run, pass: pass.pass, rat_version: pass.rat_version, label: pass.label,
      priority: pass.priority, created: pass.created, prerequisites: pass.prerequisites || null
    });
  }
}
