// A tab bar that scrolls sideways on a narrow screen: brings the current tab into view and
// marks the edges that have more tabs beyond them (app.css fades those edges).
(function () {
  document.querySelectorAll(".tabs").forEach(function (bar) {
    var current = bar.querySelector('[aria-current="page"]');
    function mark() {
      var rest = bar.scrollWidth - bar.clientWidth - bar.scrollLeft;
      bar.classList.toggle("more-left", bar.scrollLeft > 1);
      bar.classList.toggle("more-right", rest > 1);
    }
    if (current && bar.scrollWidth > bar.clientWidth) {
      var box = bar.getBoundingClientRect(), tab = current.getBoundingClientRect();
      bar.scrollLeft += tab.left - box.left - (box.width - tab.width) / 2;
    }
    mark();
    bar.addEventListener("scroll", mark, { passive: true });
    window.addEventListener("resize", mark);
  });
})();
