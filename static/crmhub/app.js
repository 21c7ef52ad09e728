// crmhub's only script besides htmx: small progressive enhancements, no inline handlers (CSP).
(function () {
  "use strict";
  // Show a toast for the "crmhub:toast" event sent by views with django-htmx's trigger_client_event.
  document.addEventListener("crmhub:toast", function (event) {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var item = document.createElement("div");
    item.className = "toast " + ((event.detail && event.detail.level) || "info");
    item.textContent = (event.detail && event.detail.message) || "";
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  });
  // A failed htmx request (500, network) is shown, never silently ignored.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : "?";
    document.dispatchEvent(new CustomEvent("crmhub:toast", {detail: {level: "error",
      message: "The server could not complete the request (" + status + "). Nothing was lost; try again."}}));
  });
  document.addEventListener("htmx:sendError", function () {
    document.dispatchEvent(new CustomEvent("crmhub:toast", {detail: {level: "error",
      message: "The server cannot be reached. Check your connection and try again."}}));
  });
  // "Select all" checkboxes: data-select-all="<name>" toggles every checkbox of that name.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-select-all]")) { return; }
    document.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]')
      .forEach(function (other) { other.checked = box.checked; });
  });
  // Confirmation for dangerous buttons: data-confirm="question" (no inline JS, no hx-confirm eval).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // Close an open act form: data-dismiss="<selector>" removes the closest matching element.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-dismiss]") : null;
    if (!button) { return; }
    var box = button.closest(button.dataset.dismiss);
    if (box) { box.remove(); }
  });
  // The dashboard chart: data from a JSON island (json_script), drawn with the vendored Chart.js.
  function drawActivityChart() {
    var island = document.getElementById("activity-data");
    var canvas = document.getElementById("activity-chart");
    if (!island || !canvas || !window.Chart || canvas.dataset.drawn) { return; }
    var data = JSON.parse(island.textContent);
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels.map(function (day) { return day.slice(5); }),
        datasets: [
          {label: "Actions", data: data.actions, backgroundColor: "#2455c3"},
          {label: "Syncs", data: data.syncs, backgroundColor: "#8fb0ff"}
        ]
      },
      options: {responsive: true, maintainAspectRatio: false, animation: false,
        scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
    });
  }
  window.addEventListener("load", drawActivityChart);
  document.addEventListener("htmx:afterSettle", drawActivityChart);
  // Start times (data-central-time): given in the staff member's own time zone (the browser's,
  // copied into the form's data-browser-zone field), shown beside the time the CRM is sent
  // in its server's zone (the <output>'s data-server-zone: US Central Time for AllClients).
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  function wall(date, zone) {
    return new Intl.DateTimeFormat("en-US", {timeZone: zone, year: "numeric", month: "numeric",
      day: "numeric", hour: "numeric", minute: "2-digit", hour12: true})
      .format(date).replace(",", "").replace(/\s+/g, " ");
  }
  function showServerTime(input) {
    var output = document.getElementById(input.id + "_central");
    var field = input.form ? input.form.querySelector("input[data-browser-zone]") : null;
    var zone = browserZone() || (field && field.value) || "UTC";
    if (field) { field.value = zone; }
    if (!output) { return; }
    if (!input.value) {
      output.textContent = "Give it in your time zone (" + zone + "); AllClients is sent US Central Time.";
      return;
    }
    var date = new Date(input.value);  // a date-time without offset is the browser's local time
    if (isNaN(date.getTime())) { return; }
    output.textContent = "Your time (" + zone + "): " + wall(date, zone) + " \u2192 sent to AllClients as " +
      wall(date, output.dataset.serverZone) + " US Central Time.";
  }
  function showServerTimes() {
    document.querySelectorAll("input[data-central-time]").forEach(showServerTime);
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("input[data-central-time]")) { showServerTime(event.target); }
  });
  window.addEventListener("load", showServerTimes);
  document.addEventListener("htmx:afterSettle", showServerTimes);
  // Move focus to the first field of an act form that htmx just opened (keyboard users).
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.classList || !target.classList.contains("act-panel")) { return; }
    var first = target.querySelector(".act-form input:not([type=hidden]), .act-form select, .act-form textarea, .act-form button");
    if (first) { first.focus(); }
  });
})();
