// The navigation behind a menu button on narrow screens (the CSS shows the button only there).
// Without this script the navigation simply wraps under the brand, always visible.
(function () {
  "use strict";
  document.documentElement.classList.add("has-menu-button");

  function toggle(button, open) {
    var header = button.closest(".topbar");
    if (!header) { return; }
    header.classList.toggle("menu-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".menu-button") : null;
    if (button) { toggle(button, button.getAttribute("aria-expanded") !== "true"); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var button = document.querySelector(".topbar.menu-open .menu-button");
    if (button) {
      toggle(button, false);
      button.focus();
    }
  });
})();
