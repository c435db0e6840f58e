/* Charts for the RevOps pages. Data comes from json_script blocks: {"label", "labels", "values"}.
 *   <canvas data-chart="bar|sparkline" data-source="ID-of-json-script">
 * No inline scripts or handlers: the Content-Security-Policy (revops/settings.py) runs only this site's files. */
(function () {
  "use strict";

  function readData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

  // Series colours of every chart, from the theme.
  function palette() {
    return [
      cssVar("--bs-primary", "#0d6efd"),
      cssVar("--bs-secondary", "#6c757d"),
      cssVar("--bs-success", "#198754"),
      cssVar("--bs-warning", "#ffc107"),
      cssVar("--bs-info", "#0dcaf0"),
      cssVar("--bs-danger", "#dc3545")
    ];
  }

  // Draw each canvas under root that matches selector, once, with draw(canvas, data of its data-source).
  function drawAll(root, selector, draw) {
    if (typeof Chart === "undefined") { return; }
    (root || document).querySelectorAll(selector).forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var data = readData(canvas.dataset.source);
      if (!data) { return; }
      draw(canvas, data);
      canvas.dataset.drawn = "1";
    });
  }

  // Draw the page's charts of selector now (or once the page is parsed) and after every htmx swap: an
  // outerHTML swap replaces the event's target, so look at the whole page (drawn canvases are skipped).
  function charts(selector, draw) {
    var all = function () { drawAll(document, selector, draw); };
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", all);
    } else {
      all();
    }
    document.addEventListener("htmx:afterSettle", all);
  }

  // For the pages' own chart scripts (static/scoring/*.js), loaded after this one.
  window.RevOps = {cssVar: cssVar, palette: palette, charts: charts};

  function drawBar(canvas, data) {
    var colour = cssVar("--bs-primary", "#0d6efd");
    return new Chart(canvas, {
      type: "bar",
      data: {labels: data.labels, datasets: [{label: data.label, data: data.values, backgroundColor: colour, borderRadius: 2}]},
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {legend: {display: false}},
        scales: {x: {grid: {display: false}, ticks: {maxRotation: 0, autoSkip: true, maxTicksLimit: 8}},
                 y: {beginAtZero: true, ticks: {precision: 0}}}
      }
    });
  }

  function drawSparkline(canvas, data) {
    var colour = cssVar("--bs-primary", "#0d6efd");
    return new Chart(canvas, {
      type: "line",
      data: {labels: data.labels, datasets: [{label: data.label, data: data.values, borderColor: colour,
        backgroundColor: "rgba(13, 110, 253, 0.12)", fill: true, tension: 0.3, pointRadius: 0, pointHitRadius: 8, borderWidth: 2}]},
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {legend: {display: false}, tooltip: {displayColors: false}},
        scales: {x: {display: false}, y: {display: false, beginAtZero: true}}
      }
    });
  }


  // Filter forms submit only the filters that are set, so list URLs stay short and shareable.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("filter-form")) { return; }
    form.querySelectorAll("input, select").forEach(function (field) {
      if (field.type === "hidden" || field.multiple) { return; }
      if (field.value === "" || (field.tagName === "SELECT" && field.value === "unknown")) { field.disabled = true; }
    });
  });

  // <form data-confirm="Question?">: asks before submitting (instead of an inline onsubmit, which the
  // Content-Security-Policy refuses).
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  // <span data-reload-without-htmx="ms">: a page that polls with htmx reloads itself when htmx is missing.
  var reloader = document.querySelector("[data-reload-without-htmx]");
  if (reloader) {
    setTimeout(function () { if (!window.htmx) { window.location.reload(); } },
               parseInt(reloader.dataset.reloadWithoutHtmx, 10) || 2000);
  }

  charts("canvas[data-chart]", function (canvas, data) {
    (canvas.dataset.chart === "sparkline" ? drawSparkline : drawBar)(canvas, data);
  });
})();
