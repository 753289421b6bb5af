// Progressive QR scanning for merchant staff: when the browser has BarcodeDetector, read the
// code from the photo on the phone and send only the token; otherwise the photo is uploaded
// and decoded on the server.
(function () {
  var form = document.getElementById("scan-form");
  var input = document.getElementById("photo");
  var token = document.getElementById("scan-token");
  if (!form || !input || !("BarcodeDetector" in window)) { return; }
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) { return; }
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    createImageBitmap(file).then(function (bitmap) {
      return detector.detect(bitmap);
    }).then(function (codes) {
      if (codes.length) {
        token.value = codes[0].rawValue;
        input.value = "";
      }
      form.submit();
    }).catch(function () { form.submit(); });
  });
})();
