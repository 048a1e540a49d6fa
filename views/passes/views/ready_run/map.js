function (doc) {
  // Waiting passes no site holds, lowest run first (runlevel); newfirst reads it backwards.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'waiting' || pass.site) continue;
    emit([doc.run, -pass.priority, doc.module, pass.pass], {
      module: doc.module, run: doc.run, pass: pass.pass, rat_version: pass.rat_version, label: pass.label,
      priority: pass.priority, created: pass.created, prerequisites: pass.prerequisites || null
    });
  }
}
