// The strategies library: text search and filters, in the browser, on the page's own
// contents (no network). Without JavaScript every strategy stays listed by district goal.
(function () {
  "use strict";
  var script = document.currentScript;
  var form = document.getElementById("filters");
  if (!form) { return; }
  var q = document.getElementById("q");
  var goal = document.getElementById("f-goal");
  var level = document.getElementById("f-level");
  var need = document.getElementById("f-need");
  var count = document.getElementById("count");
  var none = document.getElementById("none");
  var items = Array.prototype.slice.call(document.querySelectorAll("article.strategy"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.goal"));
  var template = (script && script.getAttribute("data-shown")) || "{n} / {total}";
  function fold(text) {
    return (text || "").toLocaleLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }
  var texts = items.map(function (item) { return fold(item.textContent); });
  function apply() {
    var words = fold(q.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (item, i) {
      var ok = (!goal.value || item.getAttribute("data-goal") === goal.value) &&
        (!level.value || item.getAttribute("data-level") === level.value) &&
        (!need.value || item.getAttribute("data-need") === need.value) &&
        words.every(function (w) { return texts[i].indexOf(w) !== -1; });
      item.hidden = !ok;
      if (ok) { shown += 1; }
    });
    sections.forEach(function (section) {
      section.hidden = !section.querySelector("article.strategy:not([hidden])");
    });
    count.textContent = template.replace("{n}", shown).replace("{total}", items.length);
    none.hidden = shown !== 0;
  }
  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  [q, goal, level, need].forEach(function (el) {
    el.addEventListener("input", apply);
    el.addEventListener("change", apply);
  });
  apply();
})();
