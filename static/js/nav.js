// The main menu on narrow screens: a "Menu" button (aria-expanded) shows and hides the menu.
// Without this script the button stays hidden and the menu is always open, so every link is
// still reachable. Loaded at the end of the header, so the menu is collapsed before it is drawn.
(function () {
  "use strict";

  const header = document.currentScript ? document.currentScript.closest(".site-header") : null;
  const toggle = header && header.querySelector(".menu-toggle");
  const menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (!menu) {
    return;
  }

  function setOpen(open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    header.classList.toggle("menu-open", open);
  }

  header.classList.add("menu-ready");
  toggle.hidden = false;
  setOpen(false);

  toggle.addEventListener("click", function () {
    setOpen(toggle.getAttribute("aria-expanded") !== "true");
  });

  // Escape closes the open menu and gives focus back to its button.
  header.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      toggle.focus();
    }
  });
})();
