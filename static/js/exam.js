// The exam page: a countdown to the server's deadline, and each answer saved as it is given.
// Without this script the page still works: "Save my answers" and "Submit the exam" post the form.
(function () {
  "use strict";
  const exam = document.querySelector(".exam");
  if (!exam) return;
  const form = document.getElementById("exam-form");
  const texts = document.getElementById("exam-messages").dataset;
  const state = document.getElementById("exam-save-state");
  const answered = document.getElementById("exam-answered");
  const countdown = document.getElementById("exam-countdown");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  // Seconds left as the server counted them when it sent the page: the browser's clock may be
  // wrong, its rate is not.
  const end = Date.now() + Number(exam.dataset.secondsLeft) * 1000;
  const pending = new Map(); // position -> option ids not yet acknowledged by the server

  function pad(n) { return String(n).padStart(2, "0"); }

  function tick() {
    const left = Math.max(0, Math.round((end - Date.now()) / 1000));
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    countdown.textContent = texts.left + ": " + (h ? h + ":" + pad(m) : m) + ":" + pad(s);
    countdown.classList.toggle("countdown-low", left <= 300);
    // Announce the last minutes to screen readers, not every second.
    countdown.setAttribute("aria-live", left <= 300 && left % 60 === 0 ? "polite" : "off");
    if (left === 0) {
      clearInterval(timer);
      state.textContent = texts.timeUp;
      // The server submits at the deadline; the result page shows what it graded.
      setTimeout(function () { window.location.assign(exam.dataset.resultUrl); }, 1500);
    }
  }

  function answeredOnPage() {
    return Array.from(form.querySelectorAll(".exam-question"))
      .filter(function (fieldset) { return fieldset.querySelector("input:checked"); }).length;
  }

  function selection(position) {
    return Array.from(form.querySelectorAll('input[name="q-' + position + '"]:checked'))
      .map(function (input) { return Number(input.value); });
  }

  async function send(position) {
    const options = pending.get(position);
    state.textContent = texts.saving;
    let response;
    try {
      response = await fetch(exam.dataset.answerUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ position: position, options: options }),
        credentials: "same-origin",
      });
    } catch (error) {
      state.textContent = texts.offline;
      return false;
    }
    const body = await response.json().catch(function () { return {}; });
    if (response.ok) {
      if (pending.get(position) === options) pending.delete(position);
      // Replies may cross: count what the page holds once nothing is left unsaved.
      if (!pending.size) answered.textContent = answeredOnPage();
      state.textContent = pending.size ? texts.saving : texts.saved;
      return true;
    }
    if (response.status === 409) { // submitted or past the deadline: nothing more to save
      window.location.assign(exam.dataset.resultUrl);
      return false;
    }
    pending.delete(position);
    state.textContent = body.error || texts.offline;
    return false;
  }

  async function flush() {
    for (const position of Array.from(pending.keys())) {
      if (!(await send(position))) break;
    }
  }

  form.addEventListener("change", function (event) {
    const fieldset = event.target.closest(".exam-question");
    if (!fieldset) return;
    const position = Number(fieldset.dataset.position);
    pending.set(position, selection(position));
    send(position);
  });
  window.addEventListener("online", flush);
  setInterval(function () { if (pending.size) flush(); }, 5000);

  const submit = document.getElementById("exam-submit");
  submit.addEventListener("click", function (event) {
    if (!window.confirm(submit.dataset.confirm)) event.preventDefault();
  });

  const timer = setInterval(tick, 1000);
  tick();
})();
