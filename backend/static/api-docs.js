// Starts Swagger UI on the spec URL given by the page (kept out of the HTML for CSP).
(function () {
  var el = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: el.dataset.specUrl, dom_id: "#swagger-ui", deepLinking: true });
})();
