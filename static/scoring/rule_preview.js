/* The rules editor's decay preview: under each engagement rule, what one matching event earns by its age
 * ("One event: today 10 · 7 days ago 8.51 · 30 days ago 5 · 90+ days ago 0"), rewritten as the points, cap,
 * half-life or window change. The same sentence and numbers as scoring/engine/preview.py, which the server
 * renders first: points × 0.5^(age / half-life), rounded to 6 places, capped in absolute value, nothing
 * from the window's length on. No inline scripts (the Content-Security-Policy): this file, on input events. */
(function () {
  "use strict";

  var AGES = [0, 7, 30, 90, 180, 365]; // preview.PREVIEW_AGES

  // A field's value: null if empty, NaN if not a number.
  function number(row, suffix) {
    var input = row.querySelector('input[name$="-' + suffix + '"]');
    if (!input || input.value.trim() === "") { return null; }
    var value = Number(input.value);
    return isFinite(value) ? value : NaN;
  }

  // Two decimals at most, no trailing zeros, never "-0" (preview.points_text).
  function fmt(value) {
    var text = value.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" ? "0" : text;
  }

  // One event of ``age`` days (engine: rules.engagement_points_scalar for a single row).
  function earned(points, cap, half, age) {
    var value = points * (half === null ? 1 : Math.pow(0.5, age / half));
    value = Math.round(value * 1e6) / 1e6;
    if (cap !== null) { value = Math.sign(value) * Math.min(Math.abs(value), cap); }
    return value;
  }

  function sentence(points, cap, half, windowDays) {
    if (points === null) { return "Enter the points to see what one event earns by its age."; }
    if ([points, cap, half, windowDays].some(function (v) { return Number.isNaN(v); }) ||
        (half !== null && half <= 0) || (cap !== null && cap < 0) ||
        (windowDays !== null && (windowDays < 1 || windowDays !== Math.floor(windowDays)))) {
      return "Fix the half-life, window or cap to see what one event earns by its age.";
    }
    var parts = AGES.filter(function (age) { return windowDays === null || age < windowDays; })
      .map(function (age) {
        return (age === 0 ? "today" : age + " days ago") + " " + fmt(earned(points, cap, half, age));
      });
    if (windowDays !== null) { parts.push(windowDays + "+ days ago 0"); }
    var text = "One event: " + parts.join(" · ");
    if (windowDays === null && half === null) {
      text += " — no window and no half-life: however old, an event earns full points";
    }
    return text;
  }

  function update(row) {
    var preview = row.querySelector(".rule-decay-preview");
    if (!preview) { return; }
    preview.textContent = sentence(number(row, "points"), number(row, "cap"), number(row, "half_life_days"),
                                   number(row, "window_days"));
  }

  function updateAll() { document.querySelectorAll("tbody.rule-row").forEach(update); }

  // A new row switched to an engagement rule with no window and no half-life takes a new engagement
  // rule's (data-new-window-days / data-new-half-life-days, from the server: 90 and 30).
  function engagementDefaults(row) {
    var window_ = row.querySelector('input[name$="-window_days"]');
    var half = row.querySelector('input[name$="-half_life_days"]');
    if (!row.dataset.newWindowDays || !window_ || !half || window_.value !== "" || half.value !== "") { return; }
    window_.value = row.dataset.newWindowDays;
    half.value = row.dataset.newHalfLifeDays;
  }

  document.addEventListener("input", function (event) {
    var row = event.target.closest && event.target.closest("tbody.rule-row");
    if (row) { update(row); }
  });
  document.addEventListener("change", function (event) {
    var row = event.target.closest && event.target.closest("tbody.rule-row");
    if (!row) { return; }
    if (event.target.matches('select[name$="-kind"]') && event.target.value === "engagement") {
      engagementDefaults(row);
    }
    update(row);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", updateAll);
  } else {
    updateAll();
  }
  document.addEventListener("htmx:afterSettle", updateAll);
})();
