// The lab terminal: xterm.js on the page, websockets to the learner's shells (labs/terminal.py).
// Keystrokes and pastes go up as binary frames; control messages ({"type": "resize"},
// {"type": "close-tab"}) as JSON text frames; output comes down as binary frames. A dropped
// connection is retried with backoff and lands in the same shell (tmux keeps it); the page keeps
// what its terminal showed. Texts come from data-text-* attributes, so the page speaks the
// learner's language.
//
// Tabs: "Terminal 1" and up to the server's number of tabs (its hello says how many), each its
// own websocket (?tab=N) and its own shell. The open tabs and the selected one are remembered for
// this browser tab in sessionStorage, so that a reload opens them again; a page whose terminal is
// still empty asks for the shell's recent history (&history=1). Keyboard: the arrow keys, Home
// and End move between tabs; Enter or Space (or a click) selects one and puts the focus in its
// terminal; Delete closes the focused tab (not the first); in a terminal, Tab is the shell's and
// Shift+Tab goes back to the terminal's tab.
//
// For the rest of the page (lab.js, copy.js):
//   window.academyTerminal.run(text)   types text and Enter into the selected tab's terminal (as
//                                      input, in pieces like a paste), focuses it; true, or
//                                      false when that terminal is not connected
//   window.academyTerminal.focus()     puts the focus in the selected tab's terminal
//   window.academyTerminal.reveal(el)  shows and starts a terminal that waited for its containers
(function () {
  "use strict";

  // Closes that a retry cannot fix: not signed in, not yours, no such tab, idle, not running,
  // ended. 4029 (too many terminals) is retried a few times: a reload's old sockets may still be
  // letting go of their places.
  const FINAL_CODES = new Set([4001, 4003, 4004, 4008, 4009, 4010]);
  const TOO_MANY = 4029;
  const TOO_MANY_RETRIES = 3;
  const CHUNK = 16 * 1024; // the server refuses frames over 64 KiB: long pastes are split
  const MAX_DELAY = 30000;
  const STORAGE_PREFIX = "academy-terminal-tabs:";
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

  // One tab: its xterm.js terminal and its websocket. `owner` is the tab set that shows it.
  function startTab(owner, number, panel) {
    const container = owner.container;
    const screen = panel.querySelector(".terminal-screen");
    const term = new window.Terminal({
      fontFamily: FONT,
      fontSize: 14,
      lineHeight: 1.15,
      cursorBlink: true,
      scrollback: 5000,
      theme: THEME,
      allowTransparency: false,
      // tmux clears the screen (ED2) when it draws on attach: the lines it clears must not go
      // to the scrollback, or every reconnect would repeat a screenful there (the default,
      // pinned here because the history replay and the kept scrollback rely on it).
      scrollOnEraseInDisplay: false,
    });
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(screen);
    // Tab goes to the shell (completion); Shift+Tab leaves the terminal for its tab, so that
    // the keyboard is never trapped in it.
    term.attachCustomKeyEventHandler(function (event) {
      if (event.key !== "Tab" || !event.shiftKey || event.ctrlKey || event.altKey || event.metaKey) {
        return true;
      }
      if (event.type === "keydown") {
        event.preventDefault();
        owner.focusTabButton(number);
      }
      return false;
    });
    const hint = container.querySelector("#terminal-keys-hint");
    if (hint && term.textarea) term.textarea.setAttribute("aria-describedby", hint.id);

    const tab = {
      number: number,
      term: term,
      panel: panel,
      socket: null,
      state: "connecting",
      message: "",
      readOnly: false,
      finished: false,
      attempts: 0,
      tooMany: 0,
      retry: null,
      gotOutput: false, // once the terminal shows something, reconnects ask for no history
    };

    function show(state, message) {
      tab.state = state;
      tab.message = message;
      owner.tabChanged(tab);
    }

    function send(frame) {
      if (tab.socket && tab.socket.readyState === WebSocket.OPEN) tab.socket.send(frame);
    }

    tab.sendInput = function (bytes) {
      for (let start = 0; start < bytes.length; start += CHUNK) {
        send(bytes.subarray(start, start + CHUNK));
      }
    };
    tab.connected = function () {
      return Boolean(tab.socket && tab.socket.readyState === WebSocket.OPEN && !tab.readOnly);
    };

    function sendSize() {
      send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
    }

    tab.refit = function () {
      // fit() needs a laid-out, visible element; a hidden panel has no size yet.
      if (screen.offsetWidth && screen.offsetHeight) {
        try { fit.fit(); } catch (error) { /* not rendered yet: the next resize fits */ }
      }
    };

    function url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      // The session's lab host may have a terminal gateway of its own (wss://lab-b…).
      const origin = container.dataset.terminalOrigin || scheme + "//" + location.host;
      const path = container.dataset.terminalUrl;
      const separator = path.indexOf("?") === -1 ? "?" : "&";
      return origin + path + separator + "tab=" + number +
        "&cols=" + term.cols + "&rows=" + term.rows + (tab.gotOutput ? "" : "&history=1");
    }

    function closedMessage(event) {
      // A page may translate each reason: data-text-close-4008="…"; else the server's own.
      const reason = container.dataset["textClose-" + event.code] || event.reason || "";
      return (owner.text("Closed") + " " + reason).trim();
    }

    function connect() {
      tab.retry = null;
      if (tab.finished) return;
      const socket = new WebSocket(url());
      tab.socket = socket;
      socket.binaryType = "arraybuffer";
      socket.onopen = function () {
        tab.attempts = 0;
        show("connected", owner.text("Connected"));
        sendSize();
      };
      socket.onmessage = function (event) {
        if (typeof event.data !== "string") {
          tab.gotOutput = true;
          term.write(new Uint8Array(event.data));
          return;
        }
        let message = null;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        if (!message || message.type !== "hello") return;
        tab.tooMany = 0;
        if (Number.isInteger(message.tabs)) owner.setMaxTabs(message.tabs);
        tab.readOnly = Boolean(message.read_only);
        if (tab.readOnly) {
          term.options.disableStdin = true;
          show("read-only", owner.text("ReadOnly") || owner.text("Connected"));
        }
      };
      socket.onclose = function (event) {
        if (tab.socket !== socket) return; // an older socket of this tab
        tab.socket = null;
        if (tab.finished) return;
        if (event.code === TOO_MANY && tab.tooMany < TOO_MANY_RETRIES) {
          tab.tooMany += 1;
        } else if (FINAL_CODES.has(event.code) || event.code === TOO_MANY) {
          tab.finished = true;
          term.options.cursorBlink = false;
          show("closed", closedMessage(event));
          if (event.code === 4004) owner.forget(tab);
          return;
        }
        // 1000 (the shell exited) comes back at once with a new shell; drops back off.
        const delay = event.code === 1000 && tab.attempts === 0 ? 200
          : Math.min(MAX_DELAY, 1000 * 2 ** tab.attempts) * (0.75 + Math.random() / 2);
        tab.attempts += 1;
        show("reconnecting", owner.text("Reconnecting"));
        tab.retry = setTimeout(connect, delay);
      };
    }
    tab.reconnectNow = function () {
      if (tab.retry !== null) { clearTimeout(tab.retry); connect(); }
    };

    // Closed by the learner: its shell ends on the server (not tab 1's), and it never comes back.
    tab.close = function () {
      tab.finished = true;
      if (tab.retry !== null) clearTimeout(tab.retry);
      const socket = tab.socket;
      tab.socket = null;
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "close-tab" }));
        // The server closes it once the shell is gone; if it does not, the page lets go.
        setTimeout(function () { socket.close(); }, 5000);
      } else if (socket) {
        socket.close();
      }
      term.dispose();
    };

    term.onData(function (data) { tab.sendInput(encoder.encode(data)); });
    term.onBinary(function (data) {
      tab.sendInput(Uint8Array.from(data, (character) => character.charCodeAt(0) & 255));
    });
    term.onResize(sendSize);

    let pending = false;
    function scheduleFit() {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; tab.refit(); });
    }
    tab.scheduleFit = scheduleFit;
    if (window.ResizeObserver) new ResizeObserver(scheduleFit).observe(screen);
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(scheduleFit);

    tab.refit();
    connect();
    return tab;
  }

  // The tab bar, the panels and the status line of one terminal container.
  function TabSet(container) {
    this.container = container;
    this.tablist = container.querySelector("[data-terminal-tablist]");
    this.panels = container.querySelector("[data-terminal-panels]");
    this.status = container.querySelector("[data-terminal-status]");
    this.addButton = container.querySelector("[data-terminal-add]");
    this.closeButton = container.querySelector("[data-terminal-close]");
    this.tabs = new Map(); // number -> tab
    this.active = 1;
    this.maxTabs = null; // unknown until the first hello
    this.storageKey = STORAGE_PREFIX + container.dataset.terminalUrl;
  }

  TabSet.prototype.text = function (name) {
    return this.container.dataset["text" + name] || "";
  };

  TabSet.prototype.label = function (name, number) {
    return this.text(name).replace("{n}", String(number));
  };

  TabSet.prototype.start = function () {
    const self = this;
    const saved = this.load();
    this.open(1, { select: false });
    saved.tabs.forEach(function (number) { if (number !== 1) self.open(number, { select: false }); });
    this.select(this.tabs.has(saved.active) ? saved.active : 1, { focus: false });

    this.addButton.addEventListener("click", function () { self.add(); });
    this.closeButton.addEventListener("click", function () { self.close(self.active); });
    this.tablist.addEventListener("click", function (event) {
      const button = event.target.closest("[data-terminal-tab]");
      if (!button) return;
      const number = Number(button.dataset.terminalTab);
      if (event.target.closest("[data-terminal-tab-x]")) {
        self.close(number);
      } else {
        self.select(number, { focus: true });
      }
    });
    this.tablist.addEventListener("keydown", function (event) { self.onKey(event); });
    window.addEventListener("resize", function () {
      self.tabs.forEach(function (tab) { tab.scheduleFit(); });
    });
    // Back online: try now rather than at the end of the backoff.
    window.addEventListener("online", function () {
      self.tabs.forEach(function (tab) { tab.reconnectNow(); });
    });
    this.updateButtons();
  };

  TabSet.prototype.load = function () {
    // What this browser tab had open: {"tabs": [1, 2], "active": 2}. Anything odd is ignored;
    // the server refuses a tab it does not have (4004), and the page then forgets it.
    let saved = null;
    try { saved = JSON.parse(window.sessionStorage.getItem(this.storageKey) || "null"); }
    catch (error) { saved = null; }
    const valid = (n) => Number.isInteger(n) && n >= 1 && n <= 99;
    const tabs = saved && Array.isArray(saved.tabs) ? saved.tabs.filter(valid).slice(0, 99) : [];
    const unique = Array.from(new Set([1].concat(tabs))).sort((a, b) => a - b);
    return { tabs: unique, active: saved && valid(saved.active) ? saved.active : 1 };
  };

  TabSet.prototype.save = function () {
    const state = { tabs: Array.from(this.tabs.keys()), active: this.active };
    try { window.sessionStorage.setItem(this.storageKey, JSON.stringify(state)); }
    catch (error) { /* storage off or full: the tabs are not remembered */ }
  };

  TabSet.prototype.buttonOf = function (number) {
    return this.tablist.querySelector('[data-terminal-tab="' + number + '"]');
  };

  // Makes tab `number`'s button and panel (tab 1's come with the page), and starts it.
  TabSet.prototype.open = function (number, options) {
    if (this.tabs.has(number)) return this.tabs.get(number);
    let button = this.buttonOf(number);
    let panel = this.panels.querySelector('[data-terminal-panel="' + number + '"]');
    if (!button) {
      button = this.buttonOf(1).cloneNode(false);
      button.id = "terminal-tab-" + number;
      button.dataset.terminalTab = String(number);
      button.setAttribute("aria-controls", "terminal-panel-" + number);
      button.setAttribute("aria-keyshortcuts", "Delete");
      button.textContent = this.label("Tab", number);
      const x = document.createElement("span");
      x.className = "terminal-tab-x";
      x.dataset.terminalTabX = "";
      x.setAttribute("aria-hidden", "true"); // for the mouse; Delete and the × button otherwise
      x.title = this.label("CloseTab", number);
      x.textContent = "×";
      button.appendChild(x);
      const after = Array.from(this.tabs.keys()).filter((n) => n < number).pop() || 1;
      this.buttonOf(after).after(button);
      panel = document.createElement("div");
      panel.className = "terminal-panel";
      panel.id = "terminal-panel-" + number;
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", button.id);
      panel.dataset.terminalPanel = String(number);
      const screen = document.createElement("div");
      screen.className = "terminal-screen";
      panel.appendChild(screen);
      this.panels.appendChild(panel);
    }
    button.setAttribute("aria-selected", "false");
    button.tabIndex = -1;
    // Shown alone while it starts, so that xterm.js measures the size it will have when
    // selected (the first size the server hears, and the one its history is drawn at).
    const shown = Array.from(this.panels.querySelectorAll("[data-terminal-panel]"))
      .filter((other) => !other.hidden);
    shown.forEach(function (other) { other.hidden = true; });
    panel.hidden = false;
    const tab = startTab(this, number, panel);
    panel.hidden = true;
    shown.forEach(function (other) { other.hidden = false; });
    this.tabs.set(number, tab);
    if (options && options.select) this.select(number, { focus: true });
    this.updateButtons();
    this.save();
    return tab;
  };

  TabSet.prototype.add = function () {
    const limit = this.maxTabs || 1;
    for (let number = 2; number <= limit; number += 1) {
      if (!this.tabs.has(number)) { this.open(number, { select: true }); return; }
    }
  };

  TabSet.prototype.select = function (number, options) {
    const tab = this.tabs.get(number);
    if (!tab) return;
    this.active = number;
    const self = this;
    this.tabs.forEach(function (other, n) {
      const button = self.buttonOf(n);
      const selected = n === number;
      button.setAttribute("aria-selected", selected ? "true" : "false");
      button.tabIndex = selected ? 0 : -1;
      other.panel.hidden = !selected;
    });
    tab.refit();
    tab.scheduleFit();
    this.tabChanged(tab);
    this.updateButtons();
    this.save();
    if (options && options.focus) tab.term.focus();
  };

  TabSet.prototype.close = function (number) {
    const tab = this.tabs.get(number);
    if (!tab || number === 1) return;
    const keys = Array.from(this.tabs.keys());
    const next = keys[keys.indexOf(number) - 1] || 1;
    tab.close();
    this.remove(number);
    this.select(next, { focus: false });
    const button = this.buttonOf(next);
    if (button) button.focus();
  };

  // A tab the server does not have (4004): gone from the bar and from what is remembered.
  TabSet.prototype.forget = function (tab) {
    if (tab.number === 1) return;
    const wasActive = this.active === tab.number;
    tab.term.dispose();
    this.remove(tab.number);
    if (wasActive) this.select(1, { focus: false });
  };

  TabSet.prototype.remove = function (number) {
    const tab = this.tabs.get(number);
    if (!tab) return;
    this.tabs.delete(number);
    const button = this.buttonOf(number);
    if (button) button.remove();
    tab.panel.remove();
    this.updateButtons();
    this.save();
  };

  TabSet.prototype.setMaxTabs = function (max) {
    this.maxTabs = Math.max(1, max);
    this.updateButtons();
  };

  TabSet.prototype.updateButtons = function () {
    const full = this.maxTabs === null || this.tabs.size >= this.maxTabs;
    this.addButton.disabled = full;
    this.addButton.hidden = this.maxTabs === 1;
    this.addButton.title = full && this.maxTabs
      ? this.label("TabsFull", this.maxTabs) : this.addButton.getAttribute("aria-label");
    const closable = this.active !== 1 && this.tabs.has(this.active);
    this.closeButton.hidden = !closable;
    if (closable) {
      const label = this.label("CloseTab", this.active);
      this.closeButton.setAttribute("aria-label", label);
      this.closeButton.title = label;
    }
  };

  // The container and the status line follow the selected tab.
  TabSet.prototype.tabChanged = function (tab) {
    if (tab.number !== this.active) return;
    this.container.dataset.terminalState = tab.state;
    if (this.status) this.status.textContent = tab.message;
  };

  TabSet.prototype.onKey = function (event) {
    const button = event.target.closest("[data-terminal-tab]");
    if (!button) return;
    const keys = Array.from(this.tabs.keys());
    const index = keys.indexOf(Number(button.dataset.terminalTab));
    let target = null;
    if (event.key === "ArrowRight") target = keys[(index + 1) % keys.length];
    else if (event.key === "ArrowLeft") target = keys[(index - 1 + keys.length) % keys.length];
    else if (event.key === "Home") target = keys[0];
    else if (event.key === "End") target = keys[keys.length - 1];
    else if (event.key === "Delete" && keys[index] !== 1) {
      event.preventDefault();
      this.close(keys[index]);
      return;
    }
    if (target === null || target === undefined) return;
    // Manual activation: the arrows move the focus (and show that tab), Enter or Space
    // selects it and puts the focus in its terminal.
    event.preventDefault();
    this.select(target, { focus: false });
    this.buttonOf(target).focus();
  };

  TabSet.prototype.focusTabButton = function (number) {
    const button = this.buttonOf(number);
    if (button) button.focus();
  };

  TabSet.prototype.activeTab = function () {
    return this.tabs.get(this.active) || null;
  };

  const sets = [];

  function startOnce(container) {
    if (!window.Terminal || !window.FitAddon || container.dataset.terminalStarted) return;
    container.dataset.terminalStarted = "1";
    const set = new TabSet(container);
    sets.push(set);
    set.start();
  }

  function startAll() {
    // A deferred terminal (the containers are still starting) is started by lab.js instead.
    document.querySelectorAll("[data-terminal-url]:not([data-terminal-deferred])").forEach(startOnce);
  }

  function activeTab() {
    const set = sets[0];
    return set ? set.activeTab() : null;
  }

  window.academyTerminal = {
    // For lab.js: show and start a terminal that waited for the session to become ready.
    reveal: function (container) {
      container.removeAttribute("data-terminal-deferred");
      container.hidden = false;
      startOnce(container);
    },
    // For copy.js's "Run in terminal": text, then Enter, into the selected tab's shell.
    run: function (text) {
      const tab = activeTab();
      if (!tab || !tab.connected()) return false;
      const lines = String(text).replace(/\r\n?/g, "\n").replace(/\n+$/, "");
      tab.sendInput(encoder.encode(lines.replace(/\n/g, "\r") + "\r"));
      tab.term.scrollToBottom();
      tab.term.focus();
      return true;
    },
    focus: function () {
      const tab = activeTab();
      if (tab) tab.term.focus();
    },
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
