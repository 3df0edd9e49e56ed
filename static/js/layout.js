// The header's menu is a <details>: closed behind a "Menu" button on a phone, always open on a
// wide screen (CSS shows it there even without this file). The account group closes when a
// click lands elsewhere or Escape is pressed. A file, not inline code: the CSP forbids those.
(() => {
  const wide = window.matchMedia("(min-width: 901px)");
  const sync = () => {
    const menu = document.querySelector("details[data-menu]");
    if (menu && wide.matches) menu.open = true;
  };
  document.addEventListener("DOMContentLoaded", sync);
  wide.addEventListener("change", sync);
  const closeAccount = (except) => {
    document.querySelectorAll("details[data-account][open]").forEach((el) => {
      if (el !== except && !el.contains(except)) el.open = false;
    });
  };
  document.addEventListener("click", (event) => closeAccount(event.target.closest("details[data-account]")));
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeAccount(null); });
})();

// A "Copy" button next to a long value (the invoice's payment link): data-copy holds the text.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const label = button.textContent;
    button.textContent = button.dataset.copied || label;
    setTimeout(() => { button.textContent = label; }, 2000);
  });
});

// --- Scrolling boxes reachable by keyboard (issue 16, the crawl's axe check) -------------------
// A box that scrolls sideways (a table on a phone, the ladder's timeline) takes keyboard focus
// when nothing inside it can, so it can be scrolled without a mouse (WCAG 2.1.1).
(() => {
  const FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  const mark = () => {
    document.querySelectorAll("main *").forEach((el) => {
      if (el.hasAttribute("tabindex") || el.scrollWidth <= el.clientWidth) return;
      const overflow = getComputedStyle(el).overflowX;
      if (overflow !== "auto" && overflow !== "scroll") return;
      if (el.querySelector(FOCUSABLE)) return;
      el.setAttribute("tabindex", "0");
      el.dataset.scrollFocus = "";
    });
  };
  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("htmx:afterSettle", mark);
  let pending = null;
  window.addEventListener("resize", () => { clearTimeout(pending); pending = setTimeout(mark, 150); });
})();
