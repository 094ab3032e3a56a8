// The workshop form: show only the labs of the chosen course, and guess the venue's time zone
// for a new workshop. Without script every lab shows and the server checks the choice.
(function () {
  "use strict";
  var data = document.getElementById("workshop-lab-courses");
  var course = document.getElementById("id_course");
  if (data && course) {
    var labCourses = JSON.parse(data.textContent);
    var filter = function () {
      var chosen = Number(course.value);
      document.querySelectorAll(".workshop-lab-choice").forEach(function (label) {
        var input = label.querySelector("input");
        var courses = labCourses[input.value] || [];
        var belongs = courses.indexOf(chosen) !== -1;
        label.hidden = !belongs;
        if (!belongs) input.checked = false;
      });
    };
    course.addEventListener("change", filter);
    filter();
  }
  var zone = document.getElementById("id_time_zone");
  var form = document.querySelector(".workshop-form");
  if (zone && form && form.dataset.guessZone === "yes" && zone.value === "UTC") {
    try {
      var guessed = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (guessed && zone.querySelector('option[value="' + guessed + '"]')) zone.value = guessed;
    } catch (error) { /* keep UTC */ }
  }
})();
