// A "Copy" button on every code block of lessons and lab steps. Its labels come from
// data-copy-label / data-copied-label on the nearest element that has them (<body> at least),
// so they are translated with the page.
(function () {
  "use strict";

  function label(element, name) {
    const holder = element.closest("[data-" + name + "]");
    return holder ? holder.getAttribute("data-" + name) : "";
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain http (not localhost) has no clipboard API: the old way still works.
    return new Promise(function (resolve, reject) {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      const copied = document.execCommand("copy");
      area.remove();
      if (copied) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function addButton(pre) {
    if (pre.closest(".code-block")) return;
    const copyLabel = label(pre, "copy-label");
    if (!copyLabel) return;
    const wrapper = document.createElement("div");
    wrapper.className = "code-block";
    pre.parentNode.insertBefore(wrapper, pre);
    wrapper.appendChild(pre);

    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = copyLabel;
    let reset = null;
    button.addEventListener("click", function () {
      const code = pre.querySelector("code") || pre;
      copyText(code.innerText.replace(/\n$/, "")).then(function () {
        button.textContent = label(pre, "copied-label") || copyLabel;
        button.classList.add("copied");
        clearTimeout(reset);
        reset = setTimeout(function () {
          button.textContent = copyLabel;
          button.classList.remove("copied");
        }, 2000);
      }, function () { /* nothing copied: the label stays as it was */ });
    });
    wrapper.appendChild(button);
  }

  function addButtons() {
    document.querySelectorAll(".prose pre, .lab-step pre").forEach(addButton);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addButtons);
  } else {
    addButtons();
  }
})();
