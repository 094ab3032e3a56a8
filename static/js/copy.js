// A "Copy" button on every code block of lessons and lab steps, and in lab steps a "Run in
// terminal" button on shell blocks, which types the command into the learner's terminal
// (window.academyTerminal.run, static/js/terminal.js). The buttons sit in a toolbar above the
// code in lab steps (beside it in lessons): never over the text. Labels come from data-*-label
// attributes on the nearest element that has them (<body> at least, the lab page for Run), so
// they are translated with the page; what happened is announced politely to screen readers.
(function () {
  "use strict";

  // Fenced blocks keep their language as a class on <code> (language-bash) when the renderer
  // writes it; blocks rendered without one count as shell in a lab step when a lexer coloured
  // them (the labs' blocks are ```bash; ```text and bare blocks carry no colour).
  const SHELL = /(?:^|\s)language-(?:bash|sh|shell|zsh|console|shell-session)(?:\s|$)/;
  const PROMPTED = /(?:^|\s)language-(?:console|shell-session)(?:\s|$)/;
  const ANY_LANGUAGE = /(?:^|\s)language-/;

  function label(element, name) {
    const holder = element.closest("[data-" + name + "]");
    return holder ? holder.getAttribute("data-" + name) : "";
  }

  let announcer = null;
  function announce(message) {
    if (!announcer) {
      announcer = document.createElement("p");
      announcer.className = "visually-hidden";
      announcer.setAttribute("aria-live", "polite");
      announcer.setAttribute("data-code-announcer", "");
      document.body.appendChild(announcer);
    }
    // Emptied first, so that the same message twice is read twice.
    announcer.textContent = "";
    setTimeout(function () { announcer.textContent = message; }, 50);
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

  function codeOf(pre) {
    return pre.querySelector("code") || pre;
  }

  // The command a block holds: its text; for a console block, the lines after a "$ " prompt.
  function commandOf(pre) {
    const code = codeOf(pre);
    const text = code.innerText.replace(/\n+$/, "");
    if (!PROMPTED.test(code.className)) return text;
    return text.split("\n")
      .filter(function (line) { return /^\s*\$ /.test(line); })
      .map(function (line) { return line.replace(/^\s*\$ /, ""); })
      .join("\n");
  }

  function isShell(pre) {
    const code = codeOf(pre);
    if (SHELL.test(code.className)) return true;
    if (ANY_LANGUAGE.test(code.className)) return false;
    return code.querySelector("span[class]") !== null;
  }

  // A short word on the button, then its own label again.
  function flash(button, text, className, restore) {
    clearTimeout(button._flash);
    button.textContent = text;
    button.classList.add(className);
    button._flash = setTimeout(function () {
      button.textContent = restore;
      button.classList.remove(className);
    }, 2000);
  }

  function addButtons(pre) {
    if (pre.closest(".code-block")) return;
    const copyLabel = label(pre, "copy-label");
    if (!copyLabel) return;
    const inStep = Boolean(pre.closest(".lab-step"));
    const runLabel = inStep && document.querySelector("[data-terminal-url]")
      ? label(pre, "run-label") : "";

    // Pygments wraps the <pre> in a div.highlight: the toolbar goes inside it, on the dark.
    const wrapper = document.createElement("div");
    wrapper.className = "code-block";
    pre.parentNode.insertBefore(wrapper, pre);
    wrapper.appendChild(pre);
    const toolbar = document.createElement("div");
    toolbar.className = "code-toolbar";
    if (inStep) { wrapper.insertBefore(toolbar, pre); } else { wrapper.appendChild(toolbar); }

    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy-button";
    copy.textContent = copyLabel;
    copy.addEventListener("click", function () {
      copyText(commandOf(pre)).then(function () {
        const copied = label(pre, "copied-label") || copyLabel;
        flash(copy, copied, "copied", copyLabel);
        announce(copied);
      }, function () { /* nothing copied: the label stays as it was */ });
    });
    toolbar.appendChild(copy);

    if (!runLabel || !isShell(pre)) return;
    const run = document.createElement("button");
    run.type = "button";
    run.className = "run-button";
    run.textContent = runLabel;
    run.dataset.run = "";
    run.addEventListener("click", function () {
      const terminal = window.academyTerminal;
      const sent = Boolean(terminal && typeof terminal.run === "function"
        && terminal.run(commandOf(pre)) !== false);
      const message = sent ? label(pre, "run-sent-label") : label(pre, "run-failed-label");
      if (sent) {
        note.textContent = "";
        flash(run, message, "sent", runLabel);
      } else {
        clearTimeout(note._clear);
        note.textContent = message;
        note._clear = setTimeout(function () { note.textContent = ""; }, 6000);
      }
      announce(message);
    });
    toolbar.appendChild(run);
    // Why nothing was typed (the terminal is not connected), in words, beside the buttons.
    const note = document.createElement("span");
    note.className = "code-note";
    toolbar.insertBefore(note, copy);
  }

  // A block wider than its column scrolls: the keyboard must reach it to scroll it too.
  function scrollable(pre) {
    if (pre.scrollWidth > pre.clientWidth + 1) {
      pre.setAttribute("tabindex", "0");
    } else {
      pre.removeAttribute("tabindex");
    }
  }
  const watcher = window.ResizeObserver
    ? new ResizeObserver(function (entries) {
      entries.forEach(function (entry) { scrollable(entry.target); });
    })
    : null;

  function addAll() {
    document.querySelectorAll(".prose pre, .lab-step pre").forEach(function (pre) {
      addButtons(pre);
      scrollable(pre);
      if (watcher) watcher.observe(pre);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addAll);
  } else {
    addAll();
  }
})();
