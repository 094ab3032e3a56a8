// The lab session page: live state, queue position, countdown, step tabs, checks, and the
// Results section (journals' timeline and chaos coverage, drawn by the server and swapped in
// when the worker has read the journals again).
// Texts come from data-text-* attributes, so the page speaks the learner's language.
// Each status read (the page's own, then every poll) is sent to the rest of the page as the
// DOM event "academy:status" (detail: the status JSON of labs.selectors.session_status), and
// kept in window.academyLabStatus for a listener that starts later.
(function () {
  "use strict";

  const root = document.querySelector(".lab-session");
  if (!root) return;

  const text = (name) => root.dataset["text" + name] || "";
  const csrf = () => (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";
  const statusUrl = root.dataset.statusUrl;
  const countdown = root.querySelector("[data-countdown]");
  const timer = root.querySelector("[data-timer]");
  const timerSay = root.querySelector("[data-timer-announce]");
  const warned = new Set(); // the "minutes left" warnings already announced
  const shownResults = new Map(); // step number -> id of the result on screen
  const pending = new Set(); // steps whose check was asked for and has not come back
  let state = root.dataset.state;
  let deadline = null;
  const shownProblem = root.querySelector("[data-problem]");
  let broken = Boolean(shownProblem && !shownProblem.hidden); // a problem was on screen
  let restoring = false;

  // --- Steps: one at a time, remembered per session -----------------------------------------
  const storageKey = "lab-step-" + statusUrl;
  const steps = Array.from(root.querySelectorAll("[data-step]"));
  function showStep(number) {
    steps.forEach((step) => { step.hidden = step.dataset.step !== String(number); });
    root.querySelectorAll("[data-step-tab]").forEach((tab) => {
      const current = tab.dataset.stepTab === String(number);
      tab.classList.toggle("active", current);
      tab.setAttribute("aria-current", current ? "step" : "false");
    });
    try { sessionStorage.setItem(storageKey, number); } catch (e) { /* private mode */ }
  }
  root.addEventListener("click", (event) => {
    const target = event.target.closest("[data-step-tab],[data-goto]");
    if (!target) return;
    const number = target.dataset.stepTab || target.dataset.goto;
    showStep(number);
    // A new step is read from its top; in the workspace its pane scrolls on its own.
    const shown = root.querySelector('[data-step="' + number + '"]');
    const pane = shown && shown.closest(".workspace-instructions");
    if (pane) pane.scrollTop = 0;
    // "Next step" has just been hidden with its step: the keyboard goes on from the new title.
    const title = target.dataset.goto && shown && shown.querySelector("h2");
    if (title) {
      title.tabIndex = -1;
      title.focus({ preventScroll: Boolean(pane) });
    }
  });
  let first = 1;
  try { first = sessionStorage.getItem(storageKey) || 1; } catch (e) { /* private mode */ }
  showStep(first);

  // --- Checks --------------------------------------------------------------------------------
  function resultBox(number) {
    return root.querySelector('[data-step="' + number + '"] [data-result]');
  }
  function renderResult(number, result) {
    const box = resultBox(number);
    if (!box) return;
    box.replaceChildren();
    box.className = "check-result";
    if (pending.has(number)) {
      box.classList.add("checking");
      box.textContent = text("Checking");
      return;
    }
    if (!result) return;
    const verdict = document.createElement("p");
    verdict.className = "verdict " + (result.passed ? "verdict-pass" : "verdict-fail");
    verdict.textContent = result.passed ? text("Passed") : text("Failed");
    box.append(verdict);
    if (!result.passed && result.messages.length) {
      const list = document.createElement("ul");
      result.messages.forEach((message) => {
        const item = document.createElement("li");
        item.textContent = message;
        list.append(item);
      });
      box.append(list);
    }
    box.classList.add(result.passed ? "passed" : "failed");
  }
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-check-url]");
    if (!button) return;
    const number = Number(button.closest("[data-step]").dataset.step);
    pending.add(number);
    checkSentAt = Date.now();
    button.disabled = true;
    renderResult(number, null);
    try {
      const response = await fetch(button.dataset.checkUrl, {
        method: "POST",
        headers: { "X-CSRFToken": decodeURIComponent(csrf()) },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || text("Error"));
      // One check at a time per session: while another step's check runs, this click ran
      // nothing, and the page waits for that step's result instead.
      if (body.step && body.step !== number) {
        pending.delete(number);
        button.disabled = false;
        resultBox(number).textContent = body.message || "";
        pending.add(body.step);
        renderResult(body.step, null);
      }
    } catch (error) {
      pending.delete(number);
      button.disabled = false;
      resultBox(number).textContent = error.message || text("Error");
    }
    poll();
  });

  // --- Results: the server draws them; this swaps them in when new journals are read ----------
  const results = root.querySelector("[data-results-url]");
  let resultsVersion = results ? results.dataset.resultsVersion : "";
  // The path the learner picked (a link with ?journal= works without this script too).
  let chosenJournal = new URLSearchParams(location.search).get("journal");
  let refreshing = null; // since when a refresh was asked for and has not come back
  const REFRESH_PATIENCE = 30000;

  function resultsSay(message) {
    const box = results && results.querySelector("[data-results-status]");
    if (box) box.textContent = message;
  }
  async function loadResults() {
    const url = new URL(results.dataset.resultsUrl, location.href);
    if (chosenJournal) url.searchParams.set("journal", chosenJournal);
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(text("Error"));
    const html = await response.text();
    const table = results.querySelector("details.timeline-table");
    const tableOpen = table && table.open;
    results.innerHTML = html; // the server's own escaped HTML
    const again = results.querySelector("details.timeline-table");
    if (again && tableOpen) again.open = true;
  }
  async function resultsChanged(version) {
    resultsVersion = version;
    try {
      await loadResults();
      resultsSay(text("Refreshed"));
    } catch (error) {
      resultsSay(error.message || text("Error"));
    }
    refreshing = null;
  }
  if (results) {
    results.addEventListener("click", async (event) => {
      const link = event.target.closest("[data-journal]");
      if (!link) return;
      event.preventDefault();
      chosenJournal = link.dataset.journal;
      try {
        await loadResults();
        history.replaceState(null, "", link.getAttribute("href"));
        const shown = results.querySelector(".timeline-title");
        if (shown) { shown.tabIndex = -1; shown.focus(); }
      } catch (error) {
        resultsSay(error.message || text("Error"));
      }
    });
    results.addEventListener("submit", async (event) => {
      const form = event.target.closest(".results-refresh");
      if (!form) return;
      event.preventDefault();
      const button = form.querySelector("[data-refresh]");
      button.disabled = true;
      resultsSay(text("Refreshing"));
      try {
        const response = await fetch(form.action, {
          method: "POST",
          headers: { "X-CSRFToken": decodeURIComponent(csrf()), Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          throw new Error(body.error || text("Error"));
        }
        refreshing = Date.now();
      } catch (error) {
        button.disabled = false;
        resultsSay(error.message || text("Error"));
      }
      poll();
    });
  }
  function followResults(status) {
    if (!results || status.results_version === undefined) return;
    if (status.results_version !== resultsVersion) {
      resultsChanged(status.results_version);
    } else if (refreshing !== null && Date.now() - refreshing > REFRESH_PATIENCE) {
      refreshing = null;
      const button = results.querySelector("[data-refresh]");
      if (button) button.disabled = false;
      resultsSay(text("RefreshFailed"));
    }
  }

  // --- Live state ----------------------------------------------------------------------------
  function tick() {
    if (deadline === null || !countdown) return;
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    countdown.textContent = minutes + ":" + String(left % 60).padStart(2, "0");
    countdown.classList.toggle("countdown-low", left < 300);
    if (timer) timer.classList.toggle("lab-timer-low", left < 300);
    // Said once each, politely, by screen readers: five minutes left, then one.
    [["FiveMinutes", 300], ["OneMinute", 60]].forEach(([name, seconds]) => {
      if (left > seconds) { warned.delete(name); return; } // extended: warn again later
      if (warned.has(name) || left === 0 || !timerSay) return;
      warned.add(name);
      timerSay.textContent = text(name);
    });
  }
  function warnOnceFromStart() {
    // A page opened with four minutes left shows them in red, and warns of the last minute only.
    if (deadline === null) return;
    const left = (deadline - Date.now()) / 1000;
    if (left < 300) warned.add("FiveMinutes");
    if (left < 60) warned.add("OneMinute");
  }
  function apply(status) {
    root.querySelector("[data-state-label]").textContent = status.state_label;
    root.dataset.state = status.state;
    const queue = root.querySelector("[data-queue-notice]");
    queue.hidden = status.queue_position === null;
    if (status.queue_position !== null) {
      queue.textContent = text("Queued").replace("__position__", status.queue_position);
    }
    deadline = status.seconds_left === null ? null : Date.now() + status.seconds_left * 1000;
    if (deadline === null && countdown) countdown.textContent = "";
    if (timer) timer.hidden = deadline === null;
    // Once extended, Extend stays focusable and says why it does nothing (workspace.js).
    const extend = root.querySelector("[data-extend]");
    if (extend && status.extended && extend.getAttribute("aria-disabled") !== "true") {
      extend.setAttribute("aria-disabled", "true");
      extend.title = text("Extended");
    }
    const complete = root.querySelector("[data-complete]");
    if (complete && status.completion_url) {
      complete.querySelector("[data-complete-link]").href = status.completion_url;
      complete.hidden = false;
    }
    status.steps.forEach((step) => {
      const tab = root.querySelector('[data-step-tab="' + step.number + '"]');
      if (tab) tab.classList.toggle("passed", step.passed);
      const id = step.result ? step.result.id : null;
      if (pending.has(step.number) && id !== null && id !== shownResults.get(step.number)) {
        pending.delete(step.number);
        const button = root.querySelector('[data-step="' + step.number + '"] [data-check-url]');
        if (button) button.disabled = false;
      }
      if (!pending.has(step.number) && id !== shownResults.get(step.number)) {
        renderResult(step.number, step.result);
        shownResults.set(step.number, id);
      }
    });
    if (!status.live) {
      root.querySelector("[data-ended-notice]").hidden = false;
      root.querySelectorAll("[data-check-url]").forEach((b) => { b.disabled = true; });
      // Nothing left to extend, reset or stop.
      root.querySelectorAll(".lab-bar-actions, .lab-extend").forEach((box) => { box.hidden = true; });
    }
    followResults(status);
    // A container of the sandbox died: say what happened and offer to restore it; once it is
    // back, reload, so that the terminal connects again.
    const problemBox = root.querySelector("[data-problem]");
    if (problemBox) {
      problemBox.hidden = !status.problem;
      root.toggleAttribute("data-broken", Boolean(status.problem));
      if (status.problem) {
        broken = true;
        problemBox.querySelector("[data-problem-text]").textContent = status.problem.message;
        const restore = problemBox.querySelector("[data-restore]");
        if (restore) restore.hidden = status.problem.restoring;
      } else if (broken && status.terminal) {
        location.reload();
      }
    }
    restoring = Boolean(status.problem && status.problem.restoring);
    // The terminal waited, hidden, for the containers: show and start it in place.
    const waiting = root.querySelector("[data-terminal-waiting]");
    const deferred = document.querySelector("[data-terminal-deferred]");
    if (status.terminal && waiting) {
      if (deferred && window.academyTerminal) {
        waiting.remove();
        window.academyTerminal.reveal(deferred);
      } else {
        location.reload();  // no deferred terminal on this page: the server draws it
      }
    }
    state = status.state;
    tell(status);
  }
  function tell(status) {
    window.academyLabStatus = status;
    document.dispatchEvent(new CustomEvent("academy:status", { detail: status }));
  }
  let pollTimer = null;
  // A verdict usually comes within a few hundred milliseconds of the click: the page looks
  // every 200 ms for the first 3 s of a check, then every second.
  let checkSentAt = 0;
  async function poll() {
    clearTimeout(pollTimer);
    try {
      const response = await fetch(statusUrl, { credentials: "same-origin" });
      if (response.ok) apply(await response.json());
    } catch (error) { /* a blip: the next poll catches up */ }
    const live = root.dataset.state !== "destroyed" && root.dataset.state !== "expired"
      && root.dataset.state !== "failed";
    const busy = pending.size || refreshing !== null || restoring || state === "requested"
      || state === "provisioning";
    const justChecked = pending.size && Date.now() - checkSentAt < 3000;
    if (live) pollTimer = setTimeout(poll, justChecked ? 200 : busy ? 1000 : 3000);
  }
  const initial = countdown && countdown.dataset.seconds;
  if (initial) deadline = Date.now() + Number(initial) * 1000;
  warnOnceFromStart();
  // The status the page was drawn with, for listeners, once every deferred script has run.
  const drawn = document.getElementById("lab-status");
  if (drawn) {
    let status = null;
    try { status = JSON.parse(drawn.textContent); } catch (error) { /* none: the poll tells */ }
    if (status) {
      if (document.readyState === "complete") tell(status);
      else document.addEventListener("DOMContentLoaded", () => tell(status));
    }
  }
  setInterval(tick, 1000);
  tick();
  poll();
})();
