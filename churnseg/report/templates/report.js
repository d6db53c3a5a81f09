(function () {
  "use strict";
  // Data is written into the page with textContent / createElement only, never innerHTML:
  // account ids, reasons and segment labels are untrusted text.
  var t0 = performance.now();
  function readJson(id) { return JSON.parse(document.getElementById(id).textContent); }
  var DATA = readJson("report-data");
  var CONTRIB = readJson("contrib-data");
  var CONFIG = readJson("report-config");
  var parsedAt = performance.now();
  var N = DATA.n;
  var COLS = DATA.columns;
  var LABELS = DATA.labels;
  var PAGE = Math.max(1, CONFIG.pageSize | 0);
  var SVG_NS = "http://www.w3.org/2000/svg";
  var SORT_DEFAULT_DIR = {priority_rank: 1, probability: -1, arr: -1, expected_arr_at_risk: -1};
  var DETAIL_FIELDS = ["priority_rank", "probability", "risk_tier", "arr", "ltv", "ltv_source",
    "expected_arr_at_risk", "ltv_at_risk", "priority_score", "value_tier", "owner",
    "routing_reason", "playbook", "intervention_segment", "primary_driver", "triggers",
    "segment_onboarding", "segment_risk_level", "segment_adoption", "segment_journey",
    "segment_region", "segment_channel", "segment_sentiment", "segment_renewal",
    "early_adopter"];
  var MONEY_FIELDS = {arr: 1, ltv: 1, expected_arr_at_risk: 1, ltv_at_risk: 1, priority_score: 1};

  var moneyFmt = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
  var countFmt = new Intl.NumberFormat("en-US");
  function money(v) { return v === null || v === undefined || v === "" ? "–" : moneyFmt.format(v); }
  function pct(v) { return v === null || v === undefined || v === "" ? "–" : (100 * v).toFixed(1) + "%"; }

  function has(c) { return Object.prototype.hasOwnProperty.call(COLS, c); }
  function val(c, i) {
    var col = COLS[c];
    if (!col) { return ""; }
    if (col.kind === "code") { return col.categories[col.codes[i]]; }
    var v = col.values[i];
    return v === null || v === undefined ? "" : v;
  }
  function fmt(c, i) {
    var v = val(c, i);
    if (c === "probability") { return pct(v); }
    if (MONEY_FIELDS[c]) { return money(v); }
    if (c === "priority_rank") { return countFmt.format(v); }
    return String(v);
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) { e.textContent = String(text); }
    return e;
  }
  function byId(id) { return document.getElementById(id); }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // ---- state ---------------------------------------------------------------------------
  var state = {q: [], filters: {}, famCol: "", famCode: -1, sortKey: "priority_rank",
               sortDir: 1, page: 0, view: [], selected: -1};
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-column]"));
  var haystack = null;
  var applied = 0;  // filter/sort passes so far (tests and benchmarks wait on it)
  var timings = {parse_ms: parsedAt - t0};

  function fillOptions(select, column) {
    var col = COLS[column];
    if (!col || col.kind !== "code") { select.disabled = true; return; }
    var counts = new Array(col.categories.length).fill(0);
    for (var i = 0; i < col.codes.length; i++) { counts[col.codes[i]]++; }
    col.categories.forEach(function (label, code) {
      var o = el("option", (label === "" ? "(empty)" : label) + " (" + countFmt.format(counts[code]) + ")");
      o.value = String(code);
      select.appendChild(o);
    });
  }
  selects.forEach(function (s) { fillOptions(s, s.dataset.column); });

  var famSelect = byId("f-family");
  var segSelect = byId("f-segment");
  (DATA.segment_filters || []).forEach(function (c) {
    var o = el("option", LABELS[c] || c);
    o.value = c;
    famSelect.appendChild(o);
  });

  function buildHaystack() {
    var cols = ["account_id", "primary_driver", "playbook", "intervention_segment", "owner",
                "triggers", "routing_reason"].concat(DATA.reasons).filter(has);
    haystack = new Array(N);
    for (var i = 0; i < N; i++) {
      var parts = [];
      for (var k = 0; k < cols.length; k++) { parts.push(val(cols[k], i)); }
      haystack[i] = parts.join("\u0001").toLowerCase();
    }
  }

  // ---- filtering and sorting -----------------------------------------------------------
  function apply(keepPage) {
    var start = performance.now();
    var active = [];
    Object.keys(state.filters).forEach(function (c) {
      if (state.filters[c] >= 0 && has(c)) { active.push([COLS[c].codes, state.filters[c]]); }
    });
    if (state.famCol && state.famCode >= 0 && has(state.famCol)) {
      active.push([COLS[state.famCol].codes, state.famCode]);
    }
    var terms = state.q;
    if (terms.length && haystack === null) { buildHaystack(); }
    var out = [];
    outer: for (var i = 0; i < N; i++) {
      for (var a = 0; a < active.length; a++) {
        if (active[a][0][i] !== active[a][1]) { continue outer; }
      }
      for (var t = 0; t < terms.length; t++) {
        if (haystack[i].indexOf(terms[t]) < 0) { continue outer; }
      }
      out.push(i);
    }
    // rows arrive in rank order, so the default sort needs no work
    if (!(state.sortKey === "priority_rank" && state.sortDir === 1) && has(state.sortKey)) {
      var values = COLS[state.sortKey].values;
      var dir = state.sortDir;
      out.sort(function (x, y) {
        var vx = values[x], vy = values[y];
        if (vx === vy) { return x - y; }
        if (vx === null) { return 1; }
        if (vy === null) { return -1; }
        return dir * (vx - vy) || x - y;
      });
    }
    state.view = out;
    if (!keepPage) { state.page = 0; }
    render();
    timings.last_filter_ms = performance.now() - start;
    applied++;
  }

  // ---- rendering -----------------------------------------------------------------------
  var tbody = byId("rows");
  function reasonList(i) {
    var ul = el("ul");
    DATA.reasons.forEach(function (c) {
      var r = val(c, i);
      if (r !== "") { ul.appendChild(el("li", r)); }
    });
    return ul;
  }
  function cell(tr, text, cls) { var td = el("td", text, cls); tr.appendChild(td); return td; }

  function render() {
    var pages = Math.max(1, Math.ceil(state.view.length / PAGE));
    state.page = Math.min(Math.max(state.page, 0), pages - 1);
    var from = state.page * PAGE;
    var to = Math.min(from + PAGE, state.view.length);
    var frag = document.createDocumentFragment();
    for (var k = from; k < to; k++) {
      var i = state.view[k];
      var tr = el("tr");
      tr.dataset.row = String(i);
      tr.tabIndex = 0;
      if (i === state.selected) { tr.className = "selected"; }
      cell(tr, fmt("priority_rank", i), "num rank");
      cell(tr, val("account_id", i), "account");
      var p = cell(tr, fmt("probability", i), "num probability");
      if (has("risk_tier")) {
        var badge = el("span", val("risk_tier", i), "tier");
        badge.dataset.tier = val("risk_tier", i);
        p.appendChild(badge);
      }
      cell(tr, fmt("arr", i), "num arr");
      cell(tr, fmt("expected_arr_at_risk", i), "num at-risk");
      cell(tr, val("owner", i), "owner");
      cell(tr, val("playbook", i), "playbook");
      cell(tr, val("primary_driver", i), "driver");
      cell(tr, null, "reasons").appendChild(reasonList(i));
      cell(tr, val("segment_renewal", i), "renewal");
      cell(tr, val("segment_region", i), "region");
      frag.appendChild(tr);
    }
    clear(tbody);
    tbody.appendChild(frag);
    var risk = 0;
    if (has("expected_arr_at_risk")) {
      var v = COLS.expected_arr_at_risk.values;
      for (var j = 0; j < state.view.length; j++) { risk += v[state.view[j]] || 0; }
    }
    byId("status").textContent = state.view.length === 0
      ? "No account matches these filters (of " + countFmt.format(N) + ")."
      : "Showing " + countFmt.format(from + 1) + "–" + countFmt.format(to) + " of " +
        countFmt.format(state.view.length) + " matching accounts (of " + countFmt.format(N) +
        ") · expected ARR at risk " + money(risk);
    byId("page-info").textContent = "Page " + countFmt.format(state.page + 1) + " of " + countFmt.format(pages);
    byId("first").disabled = byId("prev").disabled = state.page === 0;
    byId("next").disabled = byId("last").disabled = state.page >= pages - 1;
    document.querySelectorAll("#list thead th[aria-sort]").forEach(function (th) {
      var key = th.querySelector("button").dataset.sort;
      th.setAttribute("aria-sort", key !== state.sortKey ? "none"
        : state.sortDir === 1 ? "ascending" : "descending");
    });
  }

  // ---- drill-down ----------------------------------------------------------------------
  var contribIndex = null;
  function contributionsOf(i) {
    if (contribIndex === null) {  // row -> [first, end) entry, built on the first drill-down
      contribIndex = new Map();
      var start = 0;
      for (var k = 0; k < CONTRIB.rows.length; k++) {
        contribIndex.set(CONTRIB.rows[k], [start, start + CONTRIB.counts[k]]);
        start += CONTRIB.counts[k];
      }
    }
    var span = contribIndex.get(i);
    var out = [];
    if (!span) { return out; }
    for (var m = span[0]; m < span[1]; m++) {
      var f = CONTRIB.feature[m];
      out.push({feature: CONTRIB.features[f], family: CONTRIB.families[f],
                description: CONTRIB.descriptions[f], value: CONTRIB.values[CONTRIB.value[m]],
                contribution: CONTRIB.contribution[m]});
    }
    return out;
  }

  function truncate(s, n) { return s.length <= n ? s : s.slice(0, n - 1) + "…"; }

  function contributionChart(items) {
    var labelW = 210, half = 110, pad = 45, rowH = 22;
    var width = labelW + 2 * (half + pad), height = items.length * rowH + 8;
    var zero = labelW + pad + half;
    var max = items.reduce(function (m, d) { return Math.max(m, Math.abs(d.contribution)); }, 0) || 1;
    var root = svg("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height,
                           "class": "contrib-chart", role: "img",
                           "aria-label": "Feature contributions to churn risk"});
    items.forEach(function (d, k) {
      var g = svg("g", {transform: "translate(0," + (k * rowH + 4) + ")", "class": "contrib-row"});
      g.appendChild(svg("title", {}, d.feature + " = " + d.value + ": " +
        (d.contribution > 0 ? "+" : "") + d.contribution.toFixed(3) + " (" + d.description + ")"));
      var label = d.value === "" ? d.feature : d.feature + " = " + d.value;
      g.appendChild(svg("text", {x: labelW - 6, y: 14, "text-anchor": "end"}, truncate(label, 30)));
      var w = Math.max(1, half * Math.abs(d.contribution) / max);
      var up = d.contribution > 0;
      g.appendChild(svg("rect", {x: up ? zero : zero - w, y: 3, width: w.toFixed(1), height: 14,
                                 rx: 2, "class": "contrib-bar " + (up ? "up" : "down")}));
      g.appendChild(svg("text", {x: up ? zero + w + 4 : zero - w - 4, y: 14,
                                 "text-anchor": up ? "start" : "end"},
                        (up ? "+" : "") + d.contribution.toFixed(2)));
      root.appendChild(g);
    });
    root.appendChild(svg("line", {x1: zero, x2: zero, y1: 0, y2: height, "class": "axis"}));
    return root;
  }

  function openDetail(i) {
    state.selected = i;
    var panel = byId("detail");
    byId("detail-title").textContent = "#" + fmt("priority_rank", i) + " · " + val("account_id", i);
    var dl = byId("detail-fields");
    clear(dl);
    DETAIL_FIELDS.filter(has).forEach(function (c) {
      dl.appendChild(el("dt", LABELS[c] || c));
      var text = fmt(c, i);
      dl.appendChild(el("dd", text === "" ? "–" : text));
    });
    var ol = byId("detail-reasons");
    clear(ol);
    DATA.reasons.forEach(function (c) { var r = val(c, i); if (r !== "") { ol.appendChild(el("li", r)); } });
    if (!ol.firstChild) { ol.appendChild(el("li", "No reason recorded (account not explained).", "muted")); }
    var items = contributionsOf(i);
    var chart = byId("detail-chart");
    var table = byId("detail-contrib");
    clear(chart);
    clear(table);
    if (items.length === 0) {
      chart.appendChild(el("p", "No contributions for this account: only accounts routed to an owner are explained.", "muted"));
    } else {
      chart.appendChild(contributionChart(items));
      var head = el("tr");
      ["Feature", "Value", "Contribution", "Family"].forEach(function (h) { head.appendChild(el("th", h)); });
      var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
      var tb = el("tbody");
      items.forEach(function (d) {
        var tr = el("tr");
        var name = el("td", d.feature); name.title = d.description; tr.appendChild(name);
        tr.appendChild(el("td", d.value));
        tr.appendChild(el("td", (d.contribution > 0 ? "+" : "") + d.contribution.toFixed(3), "num"));
        tr.appendChild(el("td", d.family));
        tb.appendChild(tr);
      });
      table.appendChild(tb);
    }
    panel.hidden = false;
    render();
    byId("detail-close").focus();
  }
  function closeDetail() {
    byId("detail").hidden = true;
    var row = tbody.querySelector("tr.selected");
    state.selected = -1;
    render();
    if (row) { var again = tbody.querySelector('tr[data-row="' + row.dataset.row + '"]'); if (again) { again.focus(); } }
  }

  // ---- events --------------------------------------------------------------------------
  byId("controls").addEventListener("submit", function (e) { e.preventDefault(); });
  var searchTimer = null;
  byId("search").addEventListener("input", function (e) {
    var text = e.target.value;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      state.q = text.toLowerCase().split(/\s+/).filter(function (s) { return s.length > 0; });
      apply();
    }, 150);
  });
  selects.forEach(function (s) {
    s.addEventListener("change", function () {
      state.filters[s.dataset.column] = parseInt(s.value, 10);
      apply();
    });
  });
  famSelect.addEventListener("change", function () {
    state.famCol = famSelect.value;
    state.famCode = -1;
    clear(segSelect);
    var all = el("option", "All"); all.value = "-1"; segSelect.appendChild(all);
    if (state.famCol) { fillOptions(segSelect, state.famCol); }
    segSelect.disabled = !state.famCol;
    apply();
  });
  segSelect.addEventListener("change", function () {
    state.famCode = parseInt(segSelect.value, 10);
    apply();
  });
  byId("reset").addEventListener("click", function () {
    byId("search").value = "";
    selects.forEach(function (s) { s.value = "-1"; });
    famSelect.value = "";
    famSelect.dispatchEvent(new Event("change"));
    state.q = []; state.filters = {}; state.sortKey = "priority_rank"; state.sortDir = 1;
    apply();
  });
  document.querySelectorAll("#list thead button[data-sort]").forEach(function (b) {
    b.addEventListener("click", function () {
      var key = b.dataset.sort;
      if (state.sortKey === key) { state.sortDir = -state.sortDir; }
      else { state.sortKey = key; state.sortDir = SORT_DEFAULT_DIR[key] || 1; }
      apply();
    });
  });
  function go(page) { state.page = page; render(); }
  byId("first").addEventListener("click", function () { go(0); });
  byId("prev").addEventListener("click", function () { go(state.page - 1); });
  byId("next").addEventListener("click", function () { go(state.page + 1); });
  byId("last").addEventListener("click", function () { go(Infinity); });
  tbody.addEventListener("click", function (e) {
    var tr = e.target.closest("tr[data-row]");
    if (tr) { openDetail(parseInt(tr.dataset.row, 10)); }
  });
  tbody.addEventListener("keydown", function (e) {
    var tr = e.target.closest("tr[data-row]");
    if (tr && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); openDetail(parseInt(tr.dataset.row, 10)); }
  });
  byId("detail-close").addEventListener("click", closeDetail);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !byId("detail").hidden) { closeDetail(); }
  });

  // segment summary: one family at a time
  var summarySelect = byId("summary-family");
  function showFamily() {
    document.querySelectorAll(".family-panel").forEach(function (p) {
      p.hidden = p.dataset.family !== summarySelect.value;
    });
  }
  summarySelect.addEventListener("change", showFamily);
  showFamily();

  state.view = Array.from({length: N}, function (_, i) { return i; });
  render();
  timings.first_render_ms = performance.now() - t0;
  window.churnReport = {
    ready: true,
    rows: N,
    timings: timings,
    matching: function () { return state.view.length; },
    applied: function () { return applied; }
  };
  document.documentElement.dataset.ready = "true";
})();
