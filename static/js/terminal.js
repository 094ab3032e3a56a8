// The lab terminal: xterm.js on the page, a websocket to the learner's shell (labs/terminal.py).
// Keystrokes and pastes go up as binary frames; control messages ({"type": "resize"}) as JSON
// text frames; output comes down as binary frames. A dropped connection is retried with backoff,
// and lands in the same shell (tmux keeps it). Texts come from data-text-* attributes, so the
// status line speaks the page's language.
(function () {
  "use strict";

  // Closes that a retry cannot fix: not signed in, not yours, idle, not running, ended.
  const FINAL_CODES = new Set([4001, 4003, 4008, 4009, 4010, 4029]);
  const CHUNK = 16 * 1024; // the server refuses frames over 64 KiB: long pastes are split
  const MAX_DELAY = 30000;
  const encoder = new TextEncoder();

  const THEME = {
    // Matches the code blocks of static/css/site.css (.highlight).
    background: "#1e2430",
    foreground: "#e6e9ef",
    cursor: "#e6e9ef",
    cursorAccent: "#1e2430",
    selectionBackground: "#3d4a63",
    black: "#1e2430",
    red: "#f07178",
    green: "#9ece6a",
    yellow: "#e0c080",
    blue: "#7aa2f7",
    magenta: "#c79bf2",
    cyan: "#7dcfdf",
    white: "#c8ceda",
    brightBlack: "#7a8499",
    brightRed: "#ff8f95",
    brightGreen: "#b5e48c",
    brightYellow: "#f5d896",
    brightBlue: "#9ab8ff",
    brightMagenta: "#dbb8ff",
    brightCyan: "#a0e4f0",
    brightWhite: "#ffffff",
  };
  const FONT = 'ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Cascadia Mono", ' +
    'Menlo, Consolas, "Liberation Mono", monospace';

  function start(container) {
    const screen = container.querySelector(".terminal-screen") || container;
    const status = container.querySelector("[data-terminal-status]");
    const text = (name) => container.dataset["text" + name] || "";

    const term = new window.Terminal({
      fontFamily: FONT,
      fontSize: 14,
      lineHeight: 1.15,
      cursorBlink: true,
      scrollback: 5000,
      theme: THEME,
      allowTransparency: false,
    });
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(screen);
    refit();

    let socket = null;
    let attempts = 0;
    let retry = null;
    let finished = false;

    function show(state, message) {
      container.dataset.terminalState = state;
      if (status) status.textContent = message;
    }

    function send(frame) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(frame);
    }

    function sendInput(bytes) {
      for (let start = 0; start < bytes.length; start += CHUNK) {
        send(bytes.subarray(start, start + CHUNK));
      }
    }

    function sendSize() {
      send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
    }

    function refit() {
      // fit() needs a laid-out, visible element; a hidden panel has no size yet.
      if (screen.offsetWidth && screen.offsetHeight) {
        try { fit.fit(); } catch (error) { /* not rendered yet: the next resize fits */ }
      }
    }

    function url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const path = container.dataset.terminalUrl;
      const separator = path.indexOf("?") === -1 ? "?" : "&";
      return scheme + "//" + location.host + path + separator +
        "cols=" + term.cols + "&rows=" + term.rows;
    }

    function closedMessage(event) {
      // A page may translate each reason: data-text-close-4008="…"; else the server's own.
      const reason = container.dataset["textClose-" + event.code] || event.reason || "";
      return (text("Closed") + " " + reason).trim();
    }

    function connect() {
      retry = null;
      if (finished) return;
      socket = new WebSocket(url());
      socket.binaryType = "arraybuffer";
      socket.onopen = function () {
        attempts = 0;
        show("connected", text("Connected"));
        sendSize();
      };
      socket.onmessage = function (event) {
        if (typeof event.data !== "string") {
          term.write(new Uint8Array(event.data));
          return;
        }
        let message = null;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        if (message && message.type === "hello" && message.read_only) {
          term.options.disableStdin = true;
          show("read-only", text("ReadOnly") || text("Connected"));
        }
      };
      socket.onclose = function (event) {
        socket = null;
        if (FINAL_CODES.has(event.code)) {
          finished = true;
          term.options.cursorBlink = false;
          show("closed", closedMessage(event));
          return;
        }
        // 1000 (the shell exited) comes back at once with a new shell; drops back off.
        const delay = event.code === 1000 && attempts === 0 ? 200
          : Math.min(MAX_DELAY, 1000 * 2 ** attempts) * (0.75 + Math.random() / 2);
        attempts += 1;
        show("reconnecting", text("Reconnecting"));
        retry = setTimeout(connect, delay);
      };
    }

    term.onData(function (data) { sendInput(encoder.encode(data)); });
    term.onBinary(function (data) {
      sendInput(Uint8Array.from(data, (character) => character.charCodeAt(0) & 255));
    });
    term.onResize(sendSize);

    let pending = false;
    function scheduleFit() {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; refit(); });
    }
    if (window.ResizeObserver) new ResizeObserver(scheduleFit).observe(screen);
    window.addEventListener("resize", scheduleFit);
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(scheduleFit);
    // Back online: try now rather than at the end of the backoff.
    window.addEventListener("online", function () {
      if (retry !== null) { clearTimeout(retry); connect(); }
    });

    connect();
    return term;
  }

  function startOnce(container) {
    if (!window.Terminal || !window.FitAddon || container.dataset.terminalStarted) return;
    container.dataset.terminalStarted = "1";
    start(container);
  }

  function startAll() {
    // A deferred terminal (the containers are still starting) is started by lab.js instead.
    document.querySelectorAll("[data-terminal-url]:not([data-terminal-deferred])").forEach(startOnce);
  }

  // For lab.js: show and start a terminal that waited for the session to become ready.
  window.academyTerminal = {
    reveal: function (container) {
      container.removeAttribute("data-terminal-deferred");
      container.hidden = false;
      startOnce(container);
    },
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
