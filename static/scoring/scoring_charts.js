/* Charts of the scoring pages (what-if, lifecycle funnel), drawn from json_script data:
 *   <canvas data-scoring-chart="bar" data-source="ID">  with  {"labels": [...], "datasets": [
 *     {"label", "values", "type": "bar"|"line", "colour": index, "dashed": bool}]}
 * A static file, so that the pages need no inline script. */
(function () {
  "use strict";

  var palette = window.RevOps.palette;  // static/js/revops.js

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

  window.RevOps.charts("canvas[data-scoring-chart]", draw);
})();
