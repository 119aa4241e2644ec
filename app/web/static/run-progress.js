// A run's page while it is queued or training: follow GET /api/v1/runs/{id} and move the
// progress bar; when the run ends, reload to show the plot and the verdict.
(function () {
  "use strict";
  var box = document.getElementById("run-progress");
  if (!box) { return; }
  var bar = document.getElementById("progress");
  var message = document.getElementById("progress-message");
  var url = box.getAttribute("data-run-url");
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (run) {
        if (run === null) { setTimeout(poll, 3000); return; }
        if (run.status !== "queued" && run.status !== "running") { window.location.reload(); return; }
        bar.value = run.progress.fraction;
        bar.textContent = Math.round(run.progress.fraction * 100) + "%";
        message.textContent = run.progress.message || "";
        setTimeout(poll, 700);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
