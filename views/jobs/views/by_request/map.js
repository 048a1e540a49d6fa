function (doc) {
  // Which passes a submission wrote, so running it again finds them: [request, generation, entry, index].
  if (doc.type !== 'job' || !doc.passes) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var pass = doc.passes[i];
    if (!pass.request) continue;
    emit([pass.request, pass.request_generation || 1, pass.request_entry, pass.request_index], {
      module: doc.module,
      run: doc.run,
      pass: pass.pass
    });
  }
}
