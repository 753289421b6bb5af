// The counter's scanning, progressively enhanced:
// 1. "Scan with the camera" (shown only when the browser can open a camera): a live preview
//    read by the browser's BarcodeDetector where present, otherwise by the vendored jsQR
//    decoder, loaded only then (data-decoder). The first code read is sent as the token.
// 2. A photo of the code: read on the phone by BarcodeDetector where present, otherwise
//    uploaded and decoded on the server (the fallback that works everywhere).
(function () {
  var script = document.currentScript;
  var decoderUrl = script && script.dataset.decoder;
  var form = document.getElementById("scan-form");
  var input = document.getElementById("photo");
  var token = document.getElementById("scan-token");
  if (!form || !token) { return; }
  var hasDetector = "BarcodeDetector" in window;

  if (input && hasDetector) {
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
  }

  var live = document.getElementById("live-scan");
  var start = document.getElementById("scan-start");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  if (!live || !start || !video || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  live.hidden = false;
  var stream = null;
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });

  function loadDecoder() {
    if (hasDetector || window.jsQR || !decoderUrl) { return Promise.resolve(); }
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = decoderUrl;
      tag.onload = resolve;
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
  }

  function stop() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    stream = null;
    video.hidden = true;
  }

  function found(value) {
    stop();
    token.value = value;
    status.textContent = start.dataset.found || "";
    form.submit();
  }

  function readFrame(detector) {
    if (!stream) { return; }
    if (video.readyState < 2) { requestAnimationFrame(function () { readFrame(detector); }); return; }
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length) { found(codes[0].rawValue); } else { setTimeout(function () { readFrame(detector); }, 150); }
      }).catch(function () { setTimeout(function () { readFrame(detector); }, 300); });
      return;
    }
    var w = video.videoWidth, h = video.videoHeight;
    var scale = Math.min(1, 640 / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    var image = context.getImageData(0, 0, canvas.width, canvas.height);
    var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    if (code && code.data) { found(code.data); } else { setTimeout(function () { readFrame(null); }, 150); }
  }

  start.addEventListener("click", function () {
    if (stream) { stop(); return; }
    status.textContent = start.dataset.starting || "";
    loadDecoder().then(function () {
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    }).then(function (media) {
      stream = media;
      video.srcObject = media;
      video.hidden = false;
      return video.play();
    }).then(function () {
      status.textContent = start.dataset.aim || "";
      readFrame(hasDetector ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null);
    }).catch(function () {
      stop();
      status.textContent = start.dataset.failed || "";
    });
  });
})();
