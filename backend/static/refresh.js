// Reloads the page after data-seconds so a short-lived QR code is always fresh.
(function () {
  var script = document.currentScript;
  var seconds = parseInt((script && script.dataset.seconds) || "240", 10);
  setTimeout(function () { if (!document.hidden) { location.reload(); } }, seconds * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && performance.now() > seconds * 1000) { location.reload(); }
  });
})();
