function (doc) {
  // Passes a site holds and a backend may be running, with the end of the site's lease: any client
  // returns a pass whose lease ran out. Finished passes are left out, so reading it stays cheap.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (!pass.site || (pass.status !== 'submitted' && pass.status !== 'running')) continue;
    emit([pass.site, pass.status, doc.module, doc.run, pass.pass], pass.claim ? pass.claim.lease_until : null);
  }
}
