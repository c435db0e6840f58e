/* Charts of the scoring pages (what-if, lifecycle funnel), drawn from json_script data:
 *   <canvas data-scoring-chart="bar" data-source="ID">  with  {"labels": [...], "datasets": [
 *     {"label", "values", "type": "bar"|"line", "colour": index, "dashed": bool}]}
 * Served by scoring.views.charts_script so that the pages need no inline script. */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

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

  function draw(canvas, data) {
    var colours = palette();
    var datasets = (data.datasets || []).map(function (set, index) {
      var colour = colours[(set.colour === undefined ? index : set.colour) % colours.length];
      var line = set.type === "line";
      return {
        type: line ? "line" : "bar",
        label: set.label,
        data: set.values,
        backgroundColor: line ? colour : colour + "cc",
        borderColor: colour,
        borderWidth: line ? 2 : 0,
        borderDash: set.dashed ? [6, 4] : [],
        borderRadius: line ? 0 : 2,
        pointRadius: line ? 2 : 0,
        tension: 0.25,
        order: line ? 0 : 1
      };
    });
    return new Chart(canvas, {
      data: {labels: data.labels, datasets: datasets},
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: {mode: "index", intersect: false},
        plugins: {legend: {position: "bottom", labels: {boxWidth: 12}}},
        scales: {x: {grid: {display: false}, ticks: {maxRotation: 0, autoSkip: true, maxTicksLimit: 14}},
                 y: {beginAtZero: true, ticks: {precision: 0}}}
      }
    });
  }

  function init(root) {
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-scoring-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var node = document.getElementById(canvas.dataset.source);
      if (!node) { return; }
      draw(canvas, JSON.parse(node.textContent));
      canvas.dataset.drawn = "1";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target); });
})();
