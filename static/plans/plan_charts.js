/* Charts of the plan page (data from json_script blocks; see static/js/revops.js):
 *   <canvas data-plan-chart="months|cone" data-source="ID">
 * months: {labels, quota, created, channels: [{label, values}]} — pipeline created by channel (stacked)
 *   against the month's quota (a line);
 * cone: {labels, quota, created, expected, low, high} — cumulative pipeline against cumulative quota, and the
 *   forecast with its 95% band. */
(function () {
  "use strict";
  if (!window.RevOps) { return; }
  var R = window.RevOps;

  function months(canvas, data) {
    var colours = R.palette();
    var datasets = data.channels.map(function (c, i) {
      return {type: "bar", label: c.label, data: c.values, backgroundColor: colours[(i + 1) % colours.length], stack: "created"};
    });
    datasets.unshift({type: "line", label: "Quota", data: data.quota, borderColor: colours[0], backgroundColor: colours[0], pointRadius: 2, tension: 0});
    return new Chart(canvas, {
      data: {labels: data.labels, datasets: datasets},
      options: {
        maintainAspectRatio: false, animation: false,
        plugins: {legend: {position: "bottom"}, tooltip: {mode: "index", intersect: false}},
        scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true, title: {display: true, text: "Pipeline ($)"}}}
      }
    });
  }

  function cone(canvas, data) {
    var colours = R.palette(), band = R.cssVar("--bs-primary", "#0d6efd");
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          {label: "Quota (cumulative)", data: data.quota, borderColor: colours[0], backgroundColor: colours[0], pointRadius: 2},
          {label: "Created (cumulative)", data: data.created, borderColor: colours[1], backgroundColor: colours[1], pointRadius: 3},
          {label: "Forecast", data: data.expected, borderColor: colours[2], backgroundColor: colours[2], borderDash: [5, 4], pointRadius: 2},
          {label: "95% low", data: data.low, borderColor: "transparent", backgroundColor: "transparent", pointRadius: 0},
          {label: "95% high", data: data.high, borderColor: "transparent", backgroundColor: band + "33", pointRadius: 0, fill: "-1"}
        ]
      },
      options: {
        maintainAspectRatio: false, animation: false, spanGaps: true,
        plugins: {legend: {position: "bottom", labels: {filter: function (item) { return item.text.indexOf("95%") !== 0; }}},
                  tooltip: {mode: "index", intersect: false}},
        scales: {y: {beginAtZero: true, title: {display: true, text: "Pipeline ($)"}}}
      }
    });
  }

  var draw = {months: months, cone: cone};
  R.charts("canvas[data-plan-chart]", function (canvas, data) {
    var fn = draw[canvas.dataset.planChart];
    if (fn) { fn(canvas, data); }
  });
})();
