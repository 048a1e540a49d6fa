function (doc) {
  // Passes a site holds, with the end of its lease: any client returns a pass whose lease ran out.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (!pass.site) continue;
    emit([pass.site, pass.status, doc.module, doc.run, pass.pass], pass.claim ? pass.claim.lease_until : null);
  }
}
