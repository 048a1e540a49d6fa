function (doc) {
  // Passes a site holds and a backend may be running. The state is "claimed" until every job of the
  // pass has its backend id (a client that stopped in between finds them here), then the pass's
  // status. The value carries what monitoring needs without reading the document: the claim's token
  // and lease, and each job's backend id and last known state. Finished passes are left out, so
  // reading a site's range stays as cheap as what it holds.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (!pass.site || (pass.status !== 'submitted' && pass.status !== 'running')) continue;
    var state = pass.status;
    var jobs = [];
    var subjobs = pass.subjobs || [{}];
    for (var j = 0; j < subjobs.length; j++) {
      if (!subjobs[j].backend_id && pass.status === 'submitted') state = 'claimed';
      jobs.push([subjobs[j].backend_id || null, subjobs[j].state || null]);
    }
    emit([pass.site, state, doc.module, doc.run, pass.pass], {
      token: pass.claim ? pass.claim.token : null,
      lease: pass.claim ? pass.claim.lease_until : null,
      cancel: !!pass.cancel_requested,
      jobs: jobs
    });
  }
}
