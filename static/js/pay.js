// Copy buttons on the payment page: the text of the element named by data-copy-target goes to
// the clipboard; the button says so for two seconds. Falls back to a selection + execCommand
// where the Clipboard API is not available (older phones, plain http).
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy-target]");
  if (!button) return;
  var source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  var text = source.textContent.trim();
  var label = button.textContent;
  function done() {
    button.textContent = button.dataset.copied || label;
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
  function fallback() {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } finally { document.body.removeChild(area); }
  }
});
