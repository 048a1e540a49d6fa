function (doc) {
  // Waiting passes no site holds, highest priority first, then oldest. One view per queue order,
  // so a server that indexes each view on its own (PouchDB) keeps up only the order sites read.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'waiting' || pass.site) continue;
    emit([-pass.priority, pass.created, doc.run, doc.module, pass.pass], {
      module: doc.module, run: doc.run, pass: pass.pass, rat_version: pass.rat_version, label: pass.label,
      priority: pass.priority, created: pass.created, prerequisites: pass.prerequisites || null
    });
  }
}
