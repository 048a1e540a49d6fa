function (doc) {
  // Waiting passes no site holds, once per queue order: the first key element names the order.
  // priority: highest first, then oldest; run: lowest run first (newfirst reads it descending);
  // created: submission order (serial).
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.status !== 'waiting' || pass.site) continue;
    var summary = {
      module: doc.module,
      run: doc.run,
      pass: pass.pass,
      rat_version: pass.rat_version,
      label: pass.label,
      priority: pass.priority,
      created: pass.created,
      prerequisites: pass.prerequisites || null
    };
    emit(['priority', -pass.priority, pass.created, doc.run, doc.module, pass.pass], summary);
    emit(['run', doc.run, -pass.priority, doc.module, pass.pass], summary);
    emit(['created', pass.created, doc.run, doc.module, pass.pass], summary);
  }
}
