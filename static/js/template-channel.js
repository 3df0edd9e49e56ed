// The template editor: show only the fields of the chosen channel (a subject for e-mail, the
// Content SID and its variables for WhatsApp). Fields carry data-channels="email whatsapp…";
// the server renders them hidden already and ignores a hidden field's value on save.
(function () {
  "use strict";
  function sync(form) {
    var select = form.querySelector('select[name="channel"]');
    if (!select) return;
    form.querySelectorAll(".field[data-channels]").forEach(function (box) {
      var channels = box.getAttribute("data-channels").split(" ");
      box.hidden = channels.indexOf(select.value) === -1;
    });
  }
  function start() {
    var form = document.getElementById("template-form");
    if (!form) return;
    var select = form.querySelector('select[name="channel"]');
    if (select) select.addEventListener("change", function () { sync(form); });
    sync(form);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
