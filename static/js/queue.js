// The overdue queue's bulk actions: "select all" ticks the page's rows, the count of the
// selected rows shows in the form's legend, and only the fields of the chosen action show.
(function () {
  "use strict";
  var form = document.getElementById("bulk");
  if (!form) return;
  var action = form.querySelector("#bulk-action");
  var count = form.querySelector("[data-bulk-count]");

  function boxes() {
    return document.querySelectorAll('input[name="ids"][form="bulk"]');
  }
  function refreshCount() {
    var n = 0;
    boxes().forEach(function (box) { if (box.checked) n += 1; });
    count.textContent = n ? "(" + n + ")" : "";
  }
  function refreshFields() {
    form.querySelectorAll("[data-bulk-for]").forEach(function (field) {
      var shown = field.getAttribute("data-bulk-for") === action.value;
      field.hidden = !shown;
      field.querySelectorAll("input, select").forEach(function (input) {
        input.disabled = !shown;
        if (input.type === "date") input.required = shown;
      });
    });
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      boxes().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("[data-select-all], input[name='ids']")) refreshCount();
    if (target === action) refreshFields();
  });
  // New rows (HTMX) start unselected.
  document.body.addEventListener("htmx:afterSwap", refreshCount);
  refreshFields();
  refreshCount();
})();
