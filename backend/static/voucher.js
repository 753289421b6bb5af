// The open voucher watches its own status: every few seconds (while the page is visible) it
// asks /redemptions/<id>/status, and when the merchant has fulfilled it (or it expired) the
// page reloads into its new state — a success screen instead of a stale QR code.
(function () {
  var script = document.currentScript;
  var url = script && script.dataset.statusUrl;
  var status = script && script.dataset.status;
  if (!url || !window.fetch) { return; }
  function check() {
    if (document.hidden) { return; }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.status && body.status !== status) { location.reload(); }
      })
      .catch(function () {});
  }
  setInterval(check, 3000);
  document.addEventListener("visibilitychange", check);
})();
