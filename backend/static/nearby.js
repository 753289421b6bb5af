// Nearby: with the resident's consent, reload the list sorted by distance from here.
(function () {
  var button = document.getElementById("locate");
  if (!button || !("geolocation" in navigator)) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.geolocation.getCurrentPosition(function (position) {
      var url = new URL(location.href);
      url.searchParams.set("lat", position.coords.latitude.toFixed(6));
      url.searchParams.set("lon", position.coords.longitude.toFixed(6));
      location.assign(url.toString());
    }, function () {
      document.getElementById("locate-status").textContent = button.dataset.error;
    }, {timeout: 10000, maximumAge: 300000});
  });
})();
