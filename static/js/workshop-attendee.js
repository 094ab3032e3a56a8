// The attendee's room bar (academy/workshops/templates/workshops/_room_bar_inner.html):
// announcements, the room's timer, "your instructor is watching" and the help button, live over
// ws/workshops/<pk>/room/. Announcements are the instructor's plain text: textContent only.
// The game-day notice is the attendee's own game day (academy.workshops.board.room_game_day),
// sent by the server at once and re-read by it every 5 s; written into an aria-live region,
// with a link to the attendee's own timeline once their result is final.
(function () {
  "use strict";
  var bar = document.querySelector("[data-room]");
  if (!bar) return;
  var MAX_SHOWN = 3;
  var list = bar.querySelector("[data-room-announcements]");
  var watched = bar.querySelector("[data-room-watched]");
  var clock = bar.querySelector("[data-room-clock]");
  var paused = bar.querySelector("[data-room-paused]");
  var gameday = bar.querySelector("[data-room-gameday]");
  var helpForm = bar.querySelector("[data-room-help]");
  var helpButton = helpForm.querySelector("button");
  var timer = {
    remaining: parseInt(clock.dataset.remaining, 10) || 0,
    paused: clock.dataset.paused === "1",
    at: Date.now(),
  };

  function format(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + two(m) : m) + ":" + two(s);
  }
  function tick() {
    var elapsed = timer.paused ? 0 : (Date.now() - timer.at) / 1000;
    clock.textContent = format(timer.remaining - elapsed);
    paused.hidden = !timer.paused;
  }
  function setTimer(state) {
    timer = { remaining: state.remaining_seconds, paused: state.paused, at: Date.now() };
    tick();
  }
  function announce(item, fresh) {
    var p = document.createElement("p");
    p.className = "room-announcement" + (fresh ? " is-new" : "");
    p.textContent = String(item.text).slice(0, 280);
    list.prepend(p);
    while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
  }
  function paragraph(text, className) {
    var p = document.createElement("p");
    if (className) p.className = className;
    p.textContent = String(text);
    return p;
  }
  var shownGameDay = gameday.dataset.key || ""; // what the page was rendered with
  function setGameDay(state) {
    var key = state ? [state.id, state.running ? "1" : "0", state.result || ""].join("|") : "";
    if (key === shownGameDay) return; // unchanged: do not make a screen reader repeat it
    shownGameDay = key;
    if (!state) { gameday.replaceChildren(); return; }
    var box = document.createElement("div");
    box.className = "room-gameday " + (state.running ? "is-running" : "is-" + (state.result || "over"));
    var title = paragraph("", "room-gameday-title");
    var strong = document.createElement("strong");
    strong.textContent = String(state.title);
    title.appendChild(strong);
    box.appendChild(title);
    box.appendChild(paragraph(state.text));
    if (state.status) box.appendChild(paragraph(state.status, "room-gameday-status"));
    // Once their result is final: a link to their own timeline (views.gameday_mine).
    if (state.result_url && state.result_url.charAt(0) === "/") {
      var link = document.createElement("a");
      link.className = "room-gameday-link";
      link.href = state.result_url;
      link.textContent = String(state.result_link);
      var line = paragraph("");
      line.appendChild(link);
      box.appendChild(line);
    }
    gameday.replaceChildren(box);
  }
  function setHelp(raised) {
    helpButton.setAttribute("aria-pressed", raised ? "true" : "false");
    helpButton.textContent = raised ? helpButton.dataset.labelLower : helpButton.dataset.labelRaise;
  }
  helpForm.addEventListener("submit", function (event) {
    event.preventDefault();
    helpButton.disabled = true;
    fetch(helpForm.action, {
      method: "POST",
      body: new FormData(helpForm),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) { return response.json(); }).then(function (data) {
      if (typeof data.help === "boolean") setHelp(data.help);
    }).catch(function () {}).finally(function () { helpButton.disabled = false; });
  });
  var delay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + bar.dataset.socket);
    socket.onopen = function () { delay = 1000; };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "room") {
        list.replaceChildren();
        message.announcements.slice().reverse().forEach(function (item) { announce(item, false); });
        setTimer(message.timer);
        watched.hidden = !message.watched;
        setHelp(message.help);
        setGameDay(message.gameday);
      } else if (message.type === "gameday") {
        setGameDay(message.gameday);
      } else if (message.type === "announce") {
        announce(message.announcement, true);
      } else if (message.type === "timer") {
        setTimer(message.timer);
      } else if (message.type === "watched") {
        watched.hidden = !message.watched;
      } else if (message.type === "help") {
        setHelp(message.help);
      }
    };
    socket.onclose = function (event) {
      if (event.code === 4001 || event.code === 4003) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  tick();
  setInterval(tick, 1000);
  connect();
})();
