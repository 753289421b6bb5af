// Shows only the fields of the chosen action on the self-report form: a group or field with
// data-for="action ..." shows when one of its actions is chosen. Without this script every
// field shows, and the server reads only the chosen action's.
(function () {
  var select = document.getElementById("action");
  if (!select) { return; }
  var parts = select.form.querySelectorAll("[data-for]");
  function update() {
    parts.forEach(function (part) {
      part.hidden = part.dataset["for"].split(" ").indexOf(select.value) < 0;
    });
  }
  select.addEventListener("change", update);
  update();
})();
