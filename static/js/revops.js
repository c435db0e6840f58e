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

  // Searchable selects (Tom Select, static/vendor/tom-select), set up by the forms (revops_ui.widget_class):
  //   <select data-searchable [data-first="US,GB"]>: a search box; data-first's options come first
  //   <input data-account-search="URL" [data-label] [data-exclude]>: an account picker that asks URL?q=
  //     as one types and keeps the chosen account's id in the input (data-label: the chosen one's name,
  //     data-exclude: an account never offered, the one being edited). Without scripts both stay as
  //     they are: a list, and a box for a domain or an id.
  function commonFirst(select) {
    var codes = (select.dataset.first || "").split(",").filter(Boolean);
    if (!codes.length || select.querySelector("optgroup")) { return; }
    var byValue = {};
    Array.prototype.forEach.call(select.options, function (option) { byValue[option.value] = option; });
    var first = document.createElement("optgroup");
    first.label = select.dataset.firstLabel || "Most accounts";
    codes.forEach(function (code) { if (byValue[code]) { first.appendChild(byValue[code]); } });
    var rest = document.createElement("optgroup");
    rest.label = "All, A to Z";
    Array.prototype.slice.call(select.children).forEach(function (node) {
      if (node.tagName === "OPTION" && node.value !== "") { rest.appendChild(node); }
    });
    select.appendChild(first);
    select.appendChild(rest);
  }

  function searchableSelect(select) {
    commonFirst(select);
    new TomSelect(select, {
      plugins: select.multiple ? ["remove_button"] : [],
      maxOptions: null,
      allowEmptyOption: !select.multiple,
      hidePlaceholder: true,
      lockOptgroupOrder: true,
      // After a choice the search starts afresh, for the next one.
      onItemAdd: function () {
        if (select.multiple) { this.setTextboxValue(""); this.refreshOptions(false); }
      },
      render: {no_results: function () { return '<div class="no-results">Nothing matches.</div>'; }}
    });
  }

  function accountPicker(input) {
    var url = input.dataset.accountSearch;
    var exclude = input.dataset.exclude;
    var options = input.value ? [{value: input.value, label: input.dataset.label || input.value}] : [];
    new TomSelect(input, {
      plugins: ["clear_button"],
      maxItems: 1,
      create: false,
      valueField: "value",
      labelField: "label",
      searchField: [],
      options: options,
      items: input.value ? [input.value] : [],
      loadThrottle: 250,
      // The server matched these (a unicode domain finds its ASCII form): show them all, in its order.
      score: function () { return function () { return 1; }; },
      shouldLoad: function (query) { return query.trim().length >= 2; },
      load: function (query, callback) {
        var picker = this;
        var params = new URLSearchParams({q: query.trim()});
        if (exclude) { params.set("exclude", exclude); }
        fetch(url + "?" + params.toString(), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.json() : {results: []}; })
          .then(function (data) {
            picker.clearOptions();
            callback(data.results.map(function (account) {
              return {value: String(account.id), label: account.label};
            }));
          })
          .catch(function () { callback(); });
      },
      render: {
        no_results: function () { return '<div class="no-results">No account matches.</div>'; },
        not_loading: function (query) {
          return query.trim().length < 2 ? '<div class="no-results">Type two letters or more.</div>' : "";
        }
      }
    });
  }

  function searchables() {
    if (typeof TomSelect === "undefined") { return; }
    document.querySelectorAll("select[data-searchable]").forEach(function (select) {
      if (!select.tomselect) { searchableSelect(select); }
    });
    document.querySelectorAll("input[data-account-search]").forEach(function (input) {
      if (!input.tomselect) { accountPicker(input); }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", searchables);
  } else {
    searchables();
  }
  document.addEventListener("htmx:afterSettle", searchables);

  charts("canvas[data-chart]", function (canvas, data) {
    (canvas.dataset.chart === "sparkline" ? drawSparkline : drawBar)(canvas, data);
  });
})();
