function (doc) {
  // Held passes by the end of their lease, so any client finds the ones whose site stopped renewing
  // with one short range read (everything up to now), however many passes are held.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (!pass.site || !pass.claim || (pass.status !== 'submitted' && pass.status !== 'running')) continue;
    emit(pass.claim.lease_until, [pass.site, pass.pass]);
  }
}
