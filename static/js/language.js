// The language prompt (templates/partials/language_prompt.html) answered in place: the form
// posts as it does without script, asking for JSON, and the page stays where it is.
// "Yes" leaves a confirmation in the prompt's status line; "No thanks" removes the prompt.
(function () {
  "use strict";
  var form = document.querySelector("[data-language-prompt]");
  if (!form || !window.fetch || !window.FormData) return;
  var status = form.querySelector("[data-language-prompt-status]");
  var clicked = null;

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[name=answer]");
    if (button) clicked = button;
  });

  form.addEventListener("submit", function (event) {
    var button = event.submitter || clicked;
    if (!button) return; // let the browser post it
    event.preventDefault();
    var data = new FormData(form);
    data.set("answer", button.value);
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (result) {
        if (!result.ok) throw new Error(result.body.error || "");
        if (result.body.answer === "no") {
          var main = document.getElementById("main");
          form.remove();
          if (main) main.focus();
          return;
        }
        form.setAttribute("data-answered", "");
        status.classList.remove("is-error");
        status.textContent = result.body.message;
        status.focus();
      })
      .catch(function (error) {
        buttons.forEach(function (b) { b.disabled = false; });
        if (error.message) {
          status.classList.add("is-error");
          status.textContent = error.message;
        } else {
          // No JSON came back: post the form itself and let the server's page say what happened.
          var answer = document.createElement("input");
          answer.type = "hidden";
          answer.name = "answer";
          answer.value = button.value;
          form.appendChild(answer);
          form.submit();
        }
      });
  });
})();
