function (doc) {
  // Passes a site holds and a backend may be running, with the end of the site's lease. The state
  // is "claimed" until every job of the pass has its backend id (a client that stopped in between
  // finds them here), then the pass's status. Finished passes are left out, so reading a site's
  // range stays as cheap as what it holds.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (!pass.site || (pass.status !== 'submitted' && pass.status !== 'running')) continue;
    var state = pass.status;
    if (state === 'submitted') {
      var jobs = pass.subjobs || [{}];
      for (var j = 0; j < jobs.length; j++) if (!jobs[j].backend_id) state = 'claimed';
    }
    emit([pass.site, state, doc.module, doc.run, pass.pass], pass.claim ? pass.claim.lease_until : null);
  }
}
