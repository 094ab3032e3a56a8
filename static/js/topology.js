// Live state of the containers in the session page's lab diagram (labs/_topology.html).
// lab.js polls the session's status and dispatches it as "academy:status"; this file only
// listens: each container's node gets its state class, icon and word, and so does the
// diagram's text for screen readers. No polling of its own.
(function () {
  "use strict";
  const STATES = ["starting", "running", "down", "stopped"];

  function apply(status) {
    if (!status || !Array.isArray(status.containers)) return;
    document.querySelectorAll("[data-topology-live]").forEach((figure) => {
      status.containers.forEach((container) => {
        if (!container || STATES.indexOf(container.state) < 0) return;
        const name = String(container.name);
        figure.querySelectorAll("[data-container]").forEach((node) => {
          if (node.getAttribute("data-container") !== name) return;
          STATES.forEach((state) => node.classList.remove("topo-state-" + state));
          node.classList.add("topo-state-" + container.state);
          node.setAttribute("data-state", container.state);
          const icon = node.querySelector("[data-container-icon]");
          const label = node.querySelector("[data-container-label]");
          if (icon) icon.textContent = container.icon || "";
          if (label) label.textContent = container.state_label || "";
          const title = node.querySelector("title");
          if (title) title.textContent = title.textContent.replace(/ · [^·]*$/, " · " + (container.state_label || ""));
        });
        figure.querySelectorAll("[data-container-fact]").forEach((fact) => {
          if (fact.getAttribute("data-container-fact") !== name) return;
          const state = fact.querySelector("[data-container-fact-state]");
          if (state) state.textContent = container.state_label || "";
        });
      });
    });
  }

  document.addEventListener("academy:status", (event) => apply(event.detail));
})();
