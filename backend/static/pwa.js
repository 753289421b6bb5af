// Registers the service worker (the app works without it).
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  });
}
// Signing out forgets the saved vouchers and card (sw.js) on this device.
document.addEventListener("submit", function (event) {
  var action = event.target.getAttribute("action") || "";
  if (/\/logout$/.test(action) && "caches" in window) {
    caches.delete("carbon-pages");
  }
});
