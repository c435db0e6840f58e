/* Charts of the learned-score pages (a model's backtest report, an account's score history), drawn with
 * Chart.js from json_script data, so that the pages need no inline script:
 *   <canvas data-learned-chart data-source="ID">  with  {"kind": "xy" | "line" | "bar", "series": [...], ...}
 * kind "xy":   series [{label, points: [{x, y}], colour, dashed}] on linear axes (ROC, calibration);
 * kind "line": labels on x, series [{label, values, colour, dashed, axis: "y" | "y2"}] (capture, history);
 * kind "bar":  labels on x, series [{label, values, colour}] (lift by decile, score distributions).
 * Options: x_title, y_title, y2_title, x_max, y_max, percent (y as %), diagonal (y = x reference), markers. */
(function () {
  "use strict";

  var cssVar = window.RevOps.cssVar, palette = window.RevOps.palette;  // static/js/revops.js

  function colourOf(set, index, colours) {
    return colours[(set.colour === undefined || set.colour === null ? index : set.colour) % colours.length];
  }

  function axisTitle(text) {
    return text ? {display: true, text: text} : {display: false};
  }

  function percentTicks(spec) {
    return spec.percent ? {callback: function (value) { return Math.round(value * 100) + "%"; }} : {};
  }

  function datasets(spec) {
    var colours = palette();
    var kind = spec.kind || "line";
    var sets = (spec.series || []).map(function (set, index) {
      var colour = colourOf(set, index, colours);
      var bar = kind === "bar";
      var data = kind === "xy" ? set.points : set.values;
      return {
        type: bar ? "bar" : "line",
        label: set.label,
        data: data || [],
        yAxisID: set.axis === "y2" ? "y2" : "y",
        backgroundColor: bar ? colour + "cc" : colour,
        borderColor: colour,
        borderWidth: bar ? 0 : 2,
        borderDash: set.dashed ? [6, 4] : [],
        borderRadius: bar ? 2 : 0,
        pointRadius: bar ? 0 : (spec.markers || (data && data.length <= 12) ? 3 : 0),
        pointHitRadius: 6,
        tension: 0,
        spanGaps: true
      };
    });
    if (spec.diagonal) {
      var reference = kind === "xy" ? [{x: 0, y: 0}, {x: spec.x_max || 1, y: spec.y_max || 1}]
        : (spec.labels || []).map(function (_, i, all) { return (i + 1) / all.length; });
      sets.push({
        type: "line", label: kind === "xy" ? "Diagonal" : "Random order", data: reference, yAxisID: "y",
        borderColor: cssVar("--bs-border-color", "#dee2e6"), backgroundColor: "transparent",
        borderWidth: 1, borderDash: [3, 3], pointRadius: 0, pointHitRadius: 0, tension: 0
      });
    }
    return sets;
  }

  function draw(canvas, spec) {
    var kind = spec.kind || "line";
    var scales = {
      x: kind === "xy"
        ? {type: "linear", min: 0, max: spec.x_max || 1, title: axisTitle(spec.x_title)}
        : {grid: {display: false}, ticks: {maxRotation: 0, autoSkip: true, maxTicksLimit: 12}, title: axisTitle(spec.x_title)},
      y: {beginAtZero: true, title: axisTitle(spec.y_title), ticks: percentTicks(spec)}
    };
    if (spec.y_max) { scales.y.max = spec.y_max; }
    if ((spec.series || []).some(function (set) { return set.axis === "y2"; })) {
      scales.y2 = {position: "right", beginAtZero: true, max: 100, grid: {drawOnChartArea: false}, title: axisTitle(spec.y2_title)};
    }
    return new Chart(canvas, {
      type: kind === "bar" ? "bar" : "line",
      data: {labels: kind === "xy" ? undefined : spec.labels, datasets: datasets(spec)},
      options: {
        maintainAspectRatio: false,
        animation: false,
        parsing: kind === "xy" ? {xAxisKey: "x", yAxisKey: "y"} : undefined,
        interaction: kind === "xy" ? {mode: "nearest", intersect: false} : {mode: "index", intersect: false},
        plugins: {
          legend: {position: "bottom", labels: {boxWidth: 12, filter: function (item) { return item.text !== "Diagonal"; }}}
        },
        scales: scales
      }
    });
  }

  window.RevOps.charts("canvas[data-learned-chart]", draw);
})();
