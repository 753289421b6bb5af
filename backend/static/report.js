// Shows only the fields of the chosen action on the self-report form.
(function () {
  var select = document.getElementById("action");
  if (!select) { return; }
  var groups = document.querySelectorAll("fieldset.group");
  function update() {
    groups.forEach(function (group) {
      var show = group.dataset["for"].split(" ").indexOf(select.value) >= 0;
      group.hidden = !show;
    });
  }
  select.addEventListener("change", update);
  update();
})();
