// The lab workspace (labs/templates/labs/session.html): the split between instructions and
// terminal (dragged, or moved with the arrow keys; remembered in this browser for every lab),
// the workspace's height (the first screen below the bar), and the confirmations asked before
// Reset and Stop. Without this script the panes stack and the forms post at once.
(function () {
  "use strict";

  const root = document.querySelector(".lab-workspace");
  if (!root) return;

  // --- Split -----------------------------------------------------------------------------------
  const workspace = root.querySelector("[data-workspace]");
  const separator = root.querySelector("[data-workspace-separator]");
  const STORAGE_KEY = "academy.lab.split";
  const MIN = Number(separator.getAttribute("aria-valuemin")) || 20;
  const MAX = Number(separator.getAttribute("aria-valuemax")) || 75;
  const DEFAULT = Number(separator.getAttribute("aria-valuenow")) || 40;
  const clamp = (value) => Math.min(MAX, Math.max(MIN, value));

  function stored() {
    try {
      const value = Number(localStorage.getItem(STORAGE_KEY));
      return value >= MIN && value <= MAX ? value : null;
    } catch (error) { return null; } // storage off: the default split
  }
  function setSplit(percent, remember) {
    const value = Math.round(clamp(percent) * 10) / 10;
    workspace.style.setProperty("--split", value + "%");
    separator.setAttribute("aria-valuenow", String(Math.round(value)));
    if (remember) {
      try { localStorage.setItem(STORAGE_KEY, String(value)); } catch (error) { /* private mode */ }
    }
    return value;
  }
  setSplit(stored() || DEFAULT, false);
  separator.hidden = false;

  function percentAt(clientX) {
    const box = workspace.getBoundingClientRect();
    return ((clientX - box.left) / box.width) * 100;
  }
  separator.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    separator.setPointerCapture(event.pointerId);
    document.documentElement.classList.add("workspace-dragging");
    separator.focus({ preventScroll: true });
  });
  separator.addEventListener("pointermove", (event) => {
    if (!separator.hasPointerCapture(event.pointerId)) return;
    setSplit(percentAt(event.clientX), false);
  });
  function endDrag(event) {
    if (!separator.hasPointerCapture(event.pointerId)) return;
    separator.releasePointerCapture(event.pointerId);
    document.documentElement.classList.remove("workspace-dragging");
    setSplit(percentAt(event.clientX), true);
  }
  separator.addEventListener("pointerup", endDrag);
  separator.addEventListener("pointercancel", (event) => {
    document.documentElement.classList.remove("workspace-dragging");
    const now = Number(separator.getAttribute("aria-valuenow"));
    if (separator.hasPointerCapture(event.pointerId)) separator.releasePointerCapture(event.pointerId);
    setSplit(now, true);
  });
  separator.addEventListener("dblclick", () => setSplit(DEFAULT, true));
  separator.addEventListener("keydown", (event) => {
    const now = Number(separator.getAttribute("aria-valuenow"));
    const step = event.shiftKey ? 10 : 2;
    let next = null;
    if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = now - step;
    else if (event.key === "ArrowRight" || event.key === "ArrowDown") next = now + step;
    else if (event.key === "Home") next = MIN;
    else if (event.key === "End") next = MAX;
    else if (event.key === "Enter") next = DEFAULT;
    if (next === null) return;
    event.preventDefault();
    setSplit(next, true);
  });
  // Another tab of this browser moved the split: follow it.
  window.addEventListener("storage", (event) => {
    if (event.key === STORAGE_KEY && stored() !== null) setSplit(stored(), false);
  });

  // --- Height: the workspace fills the window below the bar and the notices -------------------
  function measure() {
    const top = workspace.getBoundingClientRect().top + window.scrollY;
    workspace.style.setProperty("--workspace-offset", Math.round(top + 12) + "px");
  }
  measure();
  window.addEventListener("resize", measure);
  const notices = root.querySelector("[data-workspace-notices]");
  if (window.ResizeObserver && notices) {
    new ResizeObserver(measure).observe(notices);
    new ResizeObserver(measure).observe(root.querySelector(".lab-bar"));
  }

  // --- Extend: once per session; a second press says why nothing happens ----------------------
  root.addEventListener("click", (event) => {
    const extend = event.target.closest("[data-extend]");
    if (!extend || extend.getAttribute("aria-disabled") !== "true") return;
    event.preventDefault();
    const say = root.querySelector("[data-timer-announce]");
    if (say) {
      say.textContent = "";
      setTimeout(() => { say.textContent = root.dataset.textExtended || ""; }, 50);
    }
  });

  // --- Reset and Stop ask first, in a dialog that says what is lost ---------------------------
  root.querySelectorAll("form[data-confirm]").forEach((form) => {
    const dialog = document.getElementById(form.dataset.confirm);
    if (!dialog || typeof dialog.showModal !== "function") return; // no <dialog>: post at once
    let opener = null;
    form.addEventListener("submit", (event) => {
      if (form.dataset.confirmed) return;
      event.preventDefault();
      opener = event.submitter || form.querySelector("button");
      dialog.returnValue = "";
      dialog.showModal();
    });
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "confirm") {
        form.dataset.confirmed = "1";
        form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
        form.submit();
        return;
      }
      if (opener) opener.focus();
    });
  });
})();
