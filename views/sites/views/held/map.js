function (doc) {
  // How many passes each site holds (submitted or running), for "gasp sites status" and the
  // dashboard: group_level 1 counts per site, 2 per site and status.
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (pass.site && (pass.status === 'submitted' || pass.status === 'running')) emit([pass.site, pass.status], null);
  }
}
