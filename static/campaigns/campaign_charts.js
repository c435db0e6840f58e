/* Charts of the campaign pages (data from json_script blocks; see static/js/revops.js):
 *   <canvas data-campaign-chart="weekly|leaderboard|scatter" data-source="ID">
 * weekly: {labels, treated, control, start_index}; leaderboard: {labels, values, cut, label};
 * scatter: {points: [{x, y, label}]}. */
(function () {
  "use strict";
  if (!window.RevOps) { return; }
  var R = window.RevOps;

  function weekly(canvas, data) {
    var colours = R.palette();
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          {label: "Targeted accounts", data: data.treated, borderColor: colours[0], backgroundColor: colours[0], tension: 0.25, pointRadius: 2},
          {label: "Control", data: data.control, borderColor: colours[1], backgroundColor: colours[1], borderDash: [5, 4], tension: 0.25, pointRadius: 2}
        ]
      },
      options: {
        maintainAspectRatio: false, animation: false,
        plugins: {legend: {position: "bottom"}, tooltip: {mode: "index", intersect: false}},
        scales: {
          x: {grid: {color: function (ctx) { return ctx.index === data.start_index ? R.cssVar("--bs-danger", "#dc3545") : "rgba(0,0,0,0.05)"; }}},
          y: {beginAtZero: true, title: {display: true, text: "Engaged events per account-week"}}
        }
      }
    });
  }

  function leaderboard(canvas, data) {
    var good = R.cssVar("--bs-primary", "#0d6efd"), cut = R.cssVar("--bs-danger", "#dc3545");
    return new Chart(canvas, {
      type: "bar",
      data: {labels: data.labels, datasets: [{label: data.label, data: data.values,
        backgroundColor: data.cut.map(function (c) { return c ? cut : good; }), borderRadius: 2}]},
      options: {
        indexAxis: "y", maintainAspectRatio: false, animation: false,
        plugins: {legend: {display: false}},
        scales: {x: {beginAtZero: true}, y: {ticks: {autoSkip: false, font: {size: 11}}}}
      }
    });
  }

  function scatter(canvas, data) {
    return new Chart(canvas, {
      type: "scatter",
      data: {datasets: [{label: "Campaigns", data: data.points, backgroundColor: R.cssVar("--bs-primary", "#0d6efd")}]},
      options: {
        maintainAspectRatio: false, animation: false,
        plugins: {legend: {display: false}, tooltip: {callbacks: {label: function (ctx) {
          var p = ctx.raw; return p.label + ": cost $" + Math.round(p.x).toLocaleString() + ", incremental pipeline $" + Math.round(p.y).toLocaleString();
        }}}},
        scales: {x: {title: {display: true, text: "Cost ($)"}, beginAtZero: true},
                 y: {title: {display: true, text: "Incremental pipeline ($)"}}}
      }
    });
  }

  var draw = {weekly: weekly, leaderboard: leaderboard, scatter: scatter};
  R.charts("canvas[data-campaign-chart]", function (canvas, data) {
    var fn = draw[canvas.dataset.campaignChart];
    if (fn) { fn(canvas, data); }
  });
})();
