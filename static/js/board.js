// The instructor's live board: a websocket pushes the room's snapshot
// (academy/workshops/consumers.py BoardConsumer); this script redraws the rows, with
// textContent only (names are the attendees' own text), and ticks the clocks.
(function () {
  "use strict";
  var script = document.querySelector("script[data-board]");
  var rowsBody = document.querySelector("[data-board-rows]");
  if (!script || !rowsBody) return;
  var labels = JSON.parse(document.getElementById("board-labels").textContent);
  var status = document.querySelector("[data-board-status]");
  var clock = document.querySelector("[data-board-clock]");
  var pausedBadge = document.querySelector("[data-board-paused]");
  var helpCount = document.querySelector("[data-board-help-count]");
  var gameDay = document.querySelector("[data-board-gameday]");
  var gameDaySummary = document.querySelector("[data-board-gameday-summary]");
  var gameDayStatus = document.querySelector("[data-board-gameday-status]");
  var timerBox = document.querySelector("[data-board-timer]");
  var timer = {
    remaining: parseInt(timerBox.dataset.remaining, 10) || 0,
    paused: timerBox.dataset.paused === "1",
    at: Date.now(),
  };

  function format(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + two(m) : m) + ":" + two(s);
  }
  function interpolate(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, key) { return String(values[key]); });
  }
  function cell(tr, text, tag) {
    var el = document.createElement(tag || "td");
    if (tag === "th") el.scope = "row";
    el.textContent = text;
    tr.appendChild(el);
    return el;
  }
  // The URL with attendee id 0 (from the template) made the attendee's.
  function withId(url, id) {
    return url.replace(/\/0\/([^/]*\/)?$/, "/" + id + "/$1");
  }
  function helpButton(row) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = withId(script.dataset.helpClear, row.id);
    var csrf = document.createElement("input");
    csrf.type = "hidden"; csrf.name = "csrfmiddlewaretoken"; csrf.value = script.dataset.csrf;
    var button = document.createElement("button");
    button.type = "submit"; button.className = "button button-small";
    button.textContent = labels.clear;
    form.appendChild(csrf); form.appendChild(button);
    return form;
  }
  function draw(snapshot) {
    var now = Date.parse(snapshot.now) || Date.now();
    var fragment = document.createDocumentFragment();
    snapshot.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.attendee = row.id;
      if (row.help_since) tr.className = "is-help";
      cell(tr, row.name, "th");
      cell(tr, row.lab || "–");
      cell(tr, row.step ? row.step + " / " + row.steps : (row.lab ? labels.all_passed : "–"));
      cell(tr, row.last_check
        ? (row.last_check.passed ? labels.passed : labels.failed) + " (" + row.last_check.step + ")"
        : "–");
      var since = cell(tr, "–");
      if (row.step_since) since.dataset.since = row.step_since;
      var state = cell(tr, row.state_label || "–");
      if (row.live && row.session) {
        var link = document.createElement("a");
        link.href = withId(script.dataset.watch, row.id);
        link.textContent = labels.watch;
        state.append(" · ", link);
      }
      // The label says "measuring" while the fault still runs on this lab (board._game_day_cell).
      var result = cell(tr, row.game_day ? row.game_day_label : "–");
      if (row.game_day) {
        result.className = "gameday-cell result-" + row.game_day +
          (row.game_day_measuring ? " is-measuring" : "");
      }
      var help = cell(tr, row.help_since ? "" : "–");
      if (row.help_since) help.appendChild(helpButton(row));
      fragment.appendChild(tr);
    });
    if (snapshot.rows.length) {
      rowsBody.replaceChildren(fragment);
    }
    timer = { remaining: snapshot.timer.remaining_seconds, paused: snapshot.timer.paused, at: Date.now() };
    pausedBadge.hidden = !timer.paused;
    // Neutral at zero, the alert style above it; the words say the count either way.
    helpCount.textContent = snapshot.help_label;
    helpCount.classList.toggle("is-alert", snapshot.help_count > 0);
    var game = snapshot.game_day;
    if (game) {
      gameDay.hidden = false;
      gameDay.dataset.state = game.state;
      gameDay.dataset.held = game.held;
      gameDay.dataset.total = game.total;
      gameDay.classList.toggle("is-running", game.running);
      gameDaySummary.textContent = game.summary;
      gameDayStatus.textContent = game.status;
      gameDayStatus.hidden = !game.status;
      gameDayStatus.dataset.countdown = game.countdown || "";
      gameDayStatus.dataset.endsAt = game.window_ends_at || "";
      // The page's clock against the server's: the countdown ticks from the server's "now".
      skew = Date.now() - now;
    }
    tick(now);
  }
  var skew = 0;
  function tick() {
    var elapsed = timer.paused ? 0 : (Date.now() - timer.at) / 1000;
    clock.textContent = format(timer.remaining - elapsed);
    var countdown = gameDayStatus && gameDayStatus.dataset.countdown;
    var ends = countdown && Date.parse(gameDayStatus.dataset.endsAt);
    if (ends) {
      // At zero it stays at 0:00 until the server's next snapshot says what comes next.
      gameDayStatus.textContent = interpolate(countdown, {
        time: format((ends - (Date.now() - skew)) / 1000),
      });
    }
    rowsBody.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.dataset.since);
      if (since) el.textContent = format((Date.now() - since) / 1000);
    });
  }
  var delay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(
      scheme + location.host + script.dataset.socket +
      "?lang=" + encodeURIComponent(document.documentElement.lang || "")
    );
    socket.onopen = function () {
      delay = 1000;
      status.textContent = labels.live;
      status.dataset.live = "1";
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "board") draw(message);
    };
    socket.onclose = function (event) {
      status.textContent = labels.offline;
      status.dataset.live = "0";
      if (event.code === 4001 || event.code === 4003) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  tick();
  setInterval(tick, 1000);
  connect();
})();
