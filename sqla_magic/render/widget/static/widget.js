// @ts-check
// The browser half of the notebook view (an anywidget ES module), with no build step.
// It only lays out what the kernel sends: every piece of report data goes into the page as
// text (append(string) / textContent), never parsed as markup. What it sends back is a
// request name with numbers (a page, a node id, a finding index), never code or SQL.

/**
 * The anywidget model as the view uses it.
 * @typedef {object} Model
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(content: any) => void} send
 * @property {(event: string, callback: (message: any) => void) => void} on
 * @property {(event: string, callback: (message: any) => void) => void} off
 * @property {any} [widget_manager]
 */
/**
 * Requests to the kernel: a name and numbers in, a payload out.
 * @typedef {object} Api
 * @property {(kind: string, args?: Record<string, number | string | boolean>) => Promise<any>} request
 * @property {() => void} dispose
 */
/**
 * What the kernel sends for a tab or the header: plain data built by the tab modules in
 * render/widget/tabs/ (checked on the Python side); read field by field, shown only as text.
 * @typedef {any} Payload
 */
/**
 * A tab's layout: fills its panel from the kernel's payloads.
 * @typedef {(panel: HTMLElement, model: Model, api: Api) => Promise<void>} TabRenderer
 */

/**
 * An element with a class and children; strings become text nodes, never markup.
 * @param {string} tag
 * @param {string} [cls]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
function h(tag, cls, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/**
 * Prose from the kernel, where `backticks` quote code: the quoted parts become <code>.
 * @param {string} tag
 * @param {string} cls
 * @param {string} text
 * @returns {HTMLElement}
 */
function prose(tag, cls, text) {
  const parts = String(text).split("`");
  if (parts.length % 2 === 0) return h(tag, cls, text); // unbalanced: leave it as written
  return h(tag, cls, ...parts.map((part, i) => (i % 2 ? h("code", "", part) : part)));
}

/**
 * @param {string} label
 * @param {(event: Event) => void} onClick
 * @param {string} [cls]
 * @returns {HTMLButtonElement}
 */
function button(label, onClick, cls) {
  const b = /** @type {HTMLButtonElement} */ (h("button", "sqm-button" + (cls ? " " + cls : ""), label));
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

/**
 * @param {string[]} headers
 * @param {Array<Array<Node | string>>} rows
 * @param {boolean[]} [numeric] which columns hold figures (right-aligned)
 * @returns {HTMLTableElement}
 */
function table(headers, rows, numeric) {
  const t = /** @type {HTMLTableElement} */ (h("table", "sqm-table"));
  const head = h("tr");
  headers.forEach((label, i) => head.append(h("th", numeric && numeric[i] ? "n" : "", label)));
  t.append(h("thead", "", head));
  const body = h("tbody");
  for (const cells of rows) {
    const tr = h("tr");
    cells.forEach((cell, i) => tr.append(h("td", numeric && numeric[i] ? "n" : "", cell)));
    body.append(tr);
  }
  t.append(body);
  return t;
}

/**
 * SQL as the kernel tokenised it: `[kind, text]` pairs, kind "" for plain text.
 * @param {Array<[string, string]>} tokens
 * @returns {HTMLElement}
 */
function sqlBlock(tokens) {
  const pre = h("pre", "sqm-sql");
  for (const [kind, text] of tokens) pre.append(kind ? h("span", "sqm-" + kind, text) : text);
  return pre;
}

/**
 * Requests to the kernel ride on custom comm messages; replies carry the request id.
 * @param {Model} model
 * @returns {Api}
 */
function client(model) {
  let counter = 0;
  /** @type {Map<string, {resolve: (payload: Payload) => void, reject: (error: Error) => void}>} */
  const waiting = new Map();
  /** @param {Payload} message */
  const onMessage = (message) => {
    if (!message || !waiting.has(message.reply_to)) return;
    const { resolve, reject } = /** @type {{resolve: (payload: Payload) => void, reject: (error: Error) => void}} */ (waiting.get(message.reply_to));
    waiting.delete(message.reply_to);
    if (message.error) reject(new Error(message.error));
    else resolve(message.payload);
  };
  model.on("msg:custom", onMessage);
  const prefix = Math.random().toString(36).slice(2);
  return {
    request(kind, args) {
      const id = prefix + ":" + ++counter;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        model.send({ request: kind, id, args: args || {} });
      });
    },
    dispose() { model.off("msg:custom", onMessage); },
  };
}

/**
 * @param {unknown} error
 * @returns {HTMLElement}
 */
function failure(error) {
  return h("div", "sqm-error", "Could not load this part of the report: " + (error instanceof Error && error.message ? error.message : String(error)));
}

// -- header --------------------------------------------------------------------------

/**
 * @param {Payload} head
 * @returns {HTMLElement}
 */
function renderHeader(head) {
  const box = h("div", "sqm-header");
  const figures = h("div", "sqm-figures");
  for (const figure of head.figures) {
    const f = h("div", "sqm-figure" + (figure.alert ? " sqm-alert" : ""), h("b", "", figure.value), figure.label);
    if (figure.detail) f.append(h("span", "sqm-detail", figure.detail));
    figures.append(f);
  }
  box.append(figures);
  const visible = head.layers.filter((/** @type {Payload} */ layer) => layer.share > 0);
  if (visible.length) {
    const bar = h("div", "sqm-bar");
    const legend = h("div", "sqm-legend");
    for (const layer of visible) {
      const segment = h("span", "sqm-segment", layer.share >= 0.08 ? layer.title : "");
      segment.style.flex = "0 0 " + (layer.share * 100).toFixed(3) + "%";
      segment.style.background = layer.colour;
      segment.title = layer.title + ": " + layer.seconds + " (" + layer.percent + ")";
      bar.append(segment);
      const swatch = h("span", "sqm-swatch");
      swatch.style.background = layer.colour;
      legend.append(h("span", "sqm-legend-item", swatch, layer.title + " " + layer.seconds + " · " + layer.percent));
    }
    box.append(bar, legend);
  }
  if (head.error) box.append(h("div", "sqm-error", h("b", "", head.error.title), h("pre", "", head.error.message)));
  if (head.notes.length) {
    const notes = h("details", "sqm-notes", h("summary", "", head.notes.length + " note" + (head.notes.length > 1 ? "s" : "")));
    const list = h("ul");
    for (const note of head.notes) list.append(h("li", "", note));
    notes.append(list);
    box.append(notes);
  }
  return box;
}

// -- findings ------------------------------------------------------------------------

/**
 * The notebook being edited, where the front end exposes it, else null.
 * @param {Model} model
 * @returns {any}
 */
function notebookOf(model) {
  // JupyterLab 4 and Notebook 7 give the widget manager the notebook's document context;
  // its shared model is the notebook being edited (an internal: detect it, never assume).
  try {
    const shared = model.widget_manager && model.widget_manager.context &&
      model.widget_manager.context.model && model.widget_manager.context.model.sharedModel;
    if (shared && Array.isArray(shared.cells) && typeof shared.insertCell === "function") return shared;
  } catch (error) { /* not a JupyterLab-style front end */ }
  return null;
}

/**
 * @param {any} notebook the shared notebook model
 * @param {string} cellId
 * @param {string} original the profiled cell's source
 * @returns {number}
 */
function profiledCellIndex(notebook, cellId, original) {
  if (cellId) {
    const index = notebook.cells.findIndex((/** @type {any} */ cell) => cell.id === cellId);
    if (index >= 0) return index;
  }
  const wanted = (original || "").trim();
  return wanted ? notebook.cells.findIndex((/** @type {any} */ cell) => cell.getSource().trim() === wanted) : -1;
}

/**
 * @param {string} text
 * @returns {Promise<boolean>}
 */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (error) {
    const area = /** @type {HTMLTextAreaElement} */ (h("textarea"));
    area.value = text;
    document.body.append(area);
    area.select();
    let done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    area.remove();
    return done;
  }
}

/** CSS classes of a `Change.verdict`: better in green, worse in red, the rest muted. */
const VERDICTS = /** @type {Record<string, string>} */ ({
  better: "sqm-better", worse: "sqm-worse", same: "sqm-muted", "no clear change": "sqm-muted", "not measured": "sqm-muted",
});

/**
 * Two runs side by side: the Compare tab's payload, which is also Try it's outcome.
 * @param {any} data
 * @returns {HTMLElement}
 */
function comparisonView(data) {
  const [before, after] = data.names;
  const box = h("div", "sqm-comparison");
  const measures = table(["", before, after, "change"], data.measures.map((/** @type {any} */ m) => [
    h("span", m.layer ? "sqm-layer-measure" : "", m.title), m.before, m.after, h("span", VERDICTS[m.verdict] || "", m.change),
  ]), [false, true, true]);
  measures.classList.add("sqm-compare");
  box.append(measures, h("h4", "", "Statement shapes: " + data.shapes_summary));
  if (data.shapes.length) {
    const shapes = table(["", before, after, "SQL", "origin"], data.shapes.map((/** @type {any} */ s) => [
      h("span", VERDICTS[s.verdict] || "", s.status), s.before, s.after, h("code", "", s.sql), s.origin,
    ]), [false, true, true]);
    shapes.classList.add("sqm-compare-shapes");
    box.append(shapes);
  }
  if (data.more_shapes) box.append(h("div", "sqm-muted", data.more_shapes + " more shapes"));
  box.append(h("h4", "", "Findings: " + data.findings_summary));
  for (const finding of data.findings) {
    box.append(h("div", "sqm-compare-finding sqm-" + finding.severity,
      h("span", VERDICTS[finding.verdict] || "sqm-muted", finding.status), " ", h("b", "", finding.rule), ": " + finding.title));
  }
  return box;
}

/**
 * What Try it will do, asked before anything runs: "Run it" or "Cancel".
 * @param {Record<string, any>} confirm what the kernel says Try it does and cannot undo
 * @param {() => void} run
 * @param {() => void} cancel
 * @returns {HTMLElement}
 */
function confirmation(confirm, run, cancel) {
  const box = h("div", "sqm-confirm");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", "Confirm Try it");
  box.append(h("div", "sqm-confirm-title", "Run this cell's code again?"));
  if (confirm.does) box.append(prose("p", "", confirm.does));
  if (confirm.guards) box.append(prose("p", "", confirm.guards));
  if (confirm.cannot_undo && confirm.cannot_undo.length) {
    const list = h("ul", "sqm-cannot-undo");
    for (const item of confirm.cannot_undo) list.append(prose("li", "", item));
    box.append(h("p", "sqm-confirm-warning", "What it cannot undo:"), list);
  }
  if (confirm.output) box.append(h("p", "sqm-muted", confirm.output));
  const runIt = button("Run it", run, "sqm-primary sqm-run");
  box.append(h("div", "sqm-actions", runIt, button("Cancel", cancel, "sqm-cancel")));
  return box;
}

/**
 * A unified diff, `[kind, text]` per line, coloured by kind.
 * @param {Array<[string, string]>} lines
 * @returns {HTMLElement}
 */
function diffBlock(lines) {
  const diff = h("pre", "sqm-diff");
  lines.forEach(([kind, text], i) => {
    diff.append(kind ? h("span", "sqm-d-" + kind, text) : text);
    if (i < lines.length - 1) diff.append("\n");
  });
  return diff;
}

/**
 * @param {Payload} card
 * @param {Model} model
 * @param {Api} api
 * @returns {HTMLElement}
 */
function findingCard(card, model, api) {
  const box = h("div", "sqm-card sqm-" + card.severity);
  box.dataset.finding = String(card.index);
  box.append(h("div", "sqm-card-head",
    h("span", "sqm-badge sqm-badge-" + card.severity, card.severity),
    h("b", "sqm-card-title", card.title),
    h("span", "sqm-tag", "#" + card.number),
    h("span", "sqm-tag", card.rule),
    card.where ? h("span", "sqm-muted", card.where) : null));
  box.append(prose("div", "sqm-message", card.message));
  const evidence = card.evidence;
  if (evidence.summary || card.lines.length) {
    const ev = h("details", "sqm-evidence", h("summary", "", "Evidence" + (evidence.summary ? ": " + evidence.summary : "")));
    for (const line of card.lines) ev.append(h("div", "sqm-code-line", h("span", "sqm-lineno", "line " + line.line), line.source));
    for (const shape of evidence.shapes) {
      ev.append(h("div", "sqm-shape", h("span", "sqm-tag", shape.count + "×"), h("span", "sqm-muted", shape.total + " · " + shape.origin), h("code", "", shape.sql)));
    }
    if (evidence.more_shapes) ev.append(h("div", "sqm-muted", "… and " + evidence.more_shapes + " more statement shapes"));
    for (const warning of evidence.plan_warnings) ev.append(h("div", "sqm-warn", warning));
    box.append(ev);
  }
  if (card.rewrite) {
    const rewrite = card.rewrite;
    if (rewrite.explanation) box.append(prose("div", "sqm-explanation", rewrite.explanation));
    box.append(diffBlock(rewrite.diff));
    const status = h("div", "sqm-status");
    const result = h("div", "sqm-result");
    const mode = /** @type {HTMLSelectElement} */ (h("select", "sqm-mode"));
    for (const [value, label] of [["below", "insert below"], ["replace", "replace the cell"]]) {
      const option = /** @type {HTMLOptionElement} */ (h("option", "", label));
      option.value = value;
      mode.append(option);
    }
    mode.value = model.get("apply_mode") || "below";
    mode.addEventListener("change", () => { model.set("apply_mode", mode.value); model.save_changes(); });
    // Try it and Apply of a module file do nothing on the first click: they say what will
    // happen here and wait for a second, explicit one.
    const confirmBox = h("div", "sqm-confirm-holder");
    const applyToFile = () => {
      apply.disabled = true;
      status.textContent = "";
      const box = h("div", "sqm-confirm sqm-confirm-file");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", "Confirm writing " + rewrite.path);
      const done = (/** @type {string} */ message) => {
        confirmBox.replaceChildren();
        status.textContent = message;
        apply.disabled = false;
      };
      const write = button("Write the file", async () => {
        write.disabled = true;
        try {
          // Only the finding's index goes to the kernel, which holds the rewrite and its file.
          const outcome = await api.request("write-module", { finding: card.index, confirm: true });
          done(outcome.message);
        } catch (error) {
          done("Writing the file failed: " + (error instanceof Error ? error.message : String(error)));
        }
      }, "sqm-primary sqm-write");
      box.append(h("div", "sqm-confirm-title", "Write this change to " + rewrite.path + "?"),
        h("p", "", "This rewrite changes a file of your code, not the notebook. Nothing is written until you " +
          "confirm, and nothing at all if the file has changed since it was profiled."),
        diffBlock(rewrite.diff),
        h("div", "sqm-actions", write, button("Cancel", () => done("Cancelled: nothing was written."), "sqm-cancel")));
      confirmBox.replaceChildren(box);
      write.focus();
    };
    const apply = button("Apply", () => {
      if (rewrite.path) { applyToFile(); return; }
      const notebook = notebookOf(model);
      if (!notebook) {
        status.textContent = "This front end cannot be edited from here: use Copy, or run  %sqlprofile_apply " + card.number + "  in a new cell.";
        return;
      }
      const index = profiledCellIndex(notebook, model.get("cell_id"), rewrite.original);
      if (index < 0) {
        status.textContent = "The profiled cell is no longer in this notebook: use Copy, or  %sqlprofile_apply " + card.number + ".";
        return;
      }
      if (mode.value === "replace") {
        notebook.cells[index].setSource(rewrite.code);
        status.textContent = "Replaced the profiled cell with the rewrite.";
      } else if (index + 1 < notebook.cells.length && notebook.cells[index + 1].getSource() === rewrite.code) {
        status.textContent = "The rewrite is already the cell below the profiled cell.";
      } else {
        notebook.insertCell(index + 1, { cell_type: "code", source: rewrite.code });
        status.textContent = "Inserted the rewrite below the profiled cell: run it to see the difference.";
      }
    }, "sqm-primary sqm-apply");
    const runVerification = async () => {
      confirmBox.replaceChildren();
      status.textContent = "Running the original and the rewritten cell once more each, database changes rolled back…";
      result.replaceChildren();
      try {
        // Only the finding's index goes to the kernel, which already holds the rewrite.
        const outcome = await api.request("verify", { finding: card.index });
        status.textContent = outcome.message || "";
        if (outcome.comparison) result.append(comparisonView(outcome.comparison));
        for (const note of outcome.notes || []) result.append(h("div", "sqm-muted", note));
      } catch (error) {
        status.textContent = "Trying the rewrite failed: " + (error instanceof Error ? error.message : String(error));
      } finally {
        tryIt.disabled = false;
      }
    };
    const tryIt = button("Try it", () => {
      tryIt.disabled = true;
      status.textContent = "";
      const box = confirmation(model.get("confirm") || {}, runVerification, () => {
        confirmBox.replaceChildren();
        status.textContent = "Cancelled: nothing was run.";
        tryIt.disabled = false;
        tryIt.focus();
      });
      confirmBox.replaceChildren(box);
      const runIt = box.querySelector(".sqm-run");
      if (runIt instanceof HTMLElement) runIt.focus();
    }, "sqm-try");
    tryIt.title = "Asks first: runs the cell and its rewrite once more each, database changes rolled back.";
    const copy = button("Copy", async () => {
      const copied = await copyText(rewrite.code);
      status.textContent = copied ? "Copied the rewritten cell to the clipboard." : "The browser refused the clipboard; select the code in the diff instead.";
    }, "sqm-copy");
    box.append(h("div", "sqm-actions", apply, ...(rewrite.path ? [] : [mode, tryIt]), copy), confirmBox, status, result);
  }
  if (card.fix) {
    const status = h("span", "sqm-status");
    box.append(h("div", "sqm-fix-title", "Change outside the cell:"), prose("div", "sqm-fix", card.fix),
      h("div", "sqm-actions", button("Copy", async () => {
        status.textContent = (await copyText(card.fix_code || card.fix)) ? "Copied: " + (card.fix_code || card.fix) : "The browser refused the clipboard.";
      }, "sqm-copy"), status));
  }
  return box;
}

/** @type {TabRenderer} */
async function findingsTab(panel, model, api) {
  const cards = await api.request("findings");
  if (!cards.length) {
    panel.append(h("p", "sqm-muted", "No findings: nothing in this run matched a rule."));
    return;
  }
  for (const card of cards) panel.append(findingCard(card, model, api));
}

// -- statements ----------------------------------------------------------------------

/** @type {Array<[string, string, string | null]>} the payload key, the header, the sort key */
const GROUP_COLUMNS = [
  ["count", "count", "count"], ["total", "total ms", "total"], ["mean", "mean ms", "mean"],
  ["max", "max ms", "max"], ["rows", "rows", "rows"], ["cache", "cache", null],
  ["lines", "lines", null], ["origin", "origin", null],
];

/**
 * @param {number} page
 * @param {number} pages
 * @param {(page: number) => void} go
 * @returns {HTMLElement}
 */
function pager(page, pages, go) {
  const box = h("div", "sqm-pager");
  if (pages <= 1) return box;
  const previous = button("‹ previous", () => go(page - 1));
  previous.disabled = page <= 0;
  const next = button("next ›", () => go(page + 1));
  next.disabled = page >= pages - 1;
  box.append(previous, h("span", "sqm-muted", "page " + (page + 1) + " of " + pages), next);
  return box;
}

/**
 * @param {HTMLElement} cell
 * @param {Api} api
 * @param {number} group
 * @param {number} page
 * @returns {Promise<void>}
 */
async function executionsInto(cell, api, group, page) {
  const data = await api.request("executions", { group, page });
  const rows = data.rows.map((/** @type {Payload} */ row) => {
    const params = h("span", "", h("code", "", row.params), row.sets ? " (" + row.sets + " sets)" : "");
    if (row.error) params.append(h("div", "sqm-error", row.error));
    const cells = ["#" + row.number, row.ms, row.rows, row.cache, row.line, row.origin, params];
    return data.rows.some((/** @type {Payload} */ r) => r.request) ? [...cells.slice(0, 6), row.request, params] : cells;
  });
  const heads = ["#", "ms", "rows", "cache", "line", "origin", "parameters"];
  cell.replaceChildren(
    sqlBlock(data.sql_tokens),
    table(data.rows.some((/** @type {Payload} */ r) => r.request) ? [...heads.slice(0, 6), "request", "parameters"] : heads,
      rows, [false, true, true]),
    pager(data.page, data.pages, (/** @type {number} */ p) => executionsInto(cell, api, group, p)));
}

/** @type {TabRenderer} */
async function statementsTab(panel, model, api) {
  let sort = "total";
  let page = 0;
  const summary = h("div", "sqm-muted");
  const holder = h("div");
  panel.append(summary, holder);
  const byRequest = h("div", "sqm-requests");
  panel.append(byRequest);
  const draw = async () => {
    const data = await api.request("groups", { sort, page });
    summary.textContent = data.executions + " executions of " + data.shapes + " statement shapes. Click a column to sort, a row to see each execution.";
    byRequest.replaceChildren();
    if (data.requests && data.requests.length) {
      byRequest.append(
        h("div", "sqm-muted", "Test-client requests, in the order they ran:"),
        table(["request", "statements", "total ms", "rows", "shapes", "repeats"],
          data.requests.map((/** @type {Payload} */ r) => [h("code", "", r.request), r.statements, r.total, r.rows, r.shapes, r.repeated]),
          [false, true, true, true, true, true]));
    }
    const t = h("table", "sqm-table sqm-groups");
    const head = h("tr");
    for (const [key, label, sortKey] of GROUP_COLUMNS) {
      const th = h("th", "sqm-col-" + key + (sortKey ? " n sqm-sortable" : ""), label + (sortKey === data.sort ? " ▾" : ""));
      if (sortKey) th.addEventListener("click", () => { sort = sortKey; page = 0; draw(); });
      head.append(th);
    }
    head.append(h("th", "", "SQL"));
    t.append(h("thead", "", head));
    const body = h("tbody");
    for (const row of data.rows) {
      const tr = h("tr", "sqm-group-row" + (row.repeated ? " sqm-repeated" : ""));
      for (const [key, , sortKey] of GROUP_COLUMNS) tr.append(h("td", "sqm-col-" + key + (sortKey ? " n" : ""), row[key]));
      const sql = h("td", "sqm-sql-cell", h("div", "sqm-sql-line", h("span", "sqm-toggle", "▸"), h("code", "", row.sql)));
      if (row.errors) sql.append(h("span", "sqm-tag sqm-failed", row.errors + " failed"));
      tr.append(sql);
      const detail = h("tr", "sqm-detail-row");
      const cell = /** @type {HTMLTableCellElement} */ (h("td"));
      cell.colSpan = GROUP_COLUMNS.length + 1;
      detail.append(cell);
      detail.hidden = true;
      tr.addEventListener("click", () => {
        detail.hidden = !detail.hidden;
        const toggle = tr.querySelector(".sqm-toggle");
        if (toggle) toggle.textContent = detail.hidden ? "▸" : "▾";
        if (!detail.hidden && !cell.childNodes.length) {
          cell.append(h("span", "sqm-muted", "loading…"));
          executionsInto(cell, api, row.id, 0).catch((error) => cell.replaceChildren(failure(error)));
        }
      });
      body.append(tr, detail);
    }
    t.append(body);
    holder.replaceChildren(t, pager(data.page, data.pages, (/** @type {number} */ p) => { page = p; draw(); }));
  };
  await draw();
}

// -- call tree -----------------------------------------------------------------------

/**
 * @param {Payload} row
 * @param {Api} api
 * @param {number} depth
 * @returns {HTMLElement}
 */
function treeNode(row, api, depth) {
  const box = h("div", "sqm-node sqm-kind-" + row.kind + (row.hot ? " sqm-hot" : ""));
  const toggle = h("span", "sqm-toggle", row.children ? "▸" : " ");
  const bar = h("span", "");
  const share = h("span", "sqm-share", bar);
  bar.style.width = (row.share * 100).toFixed(1) + "%";
  // Figures stay in fixed columns; only the name is indented, so deep trees stay readable.
  const label = h("span", "sqm-label", toggle, h("span", "sqm-layer sqm-layer-" + row.layer, ""),
    h("span", "sqm-name", row.name),
    row.kind !== "cell" && row.kind !== "library" ? h("span", "sqm-kind", row.kind === "sqlalchemy" ? "SQLAlchemy" : row.kind) : null,
    row.place ? h("span", "sqm-place", row.place) : null);
  label.style.paddingLeft = (depth * 14) + "px";
  const line = h("div", "sqm-node-line",
    h("span", "n", row.total), h("span", "n", row.self), h("span", "n", row.calls), share, label);
  line.title = row.file ? row.file + " · layer " + row.layer : "layer " + row.layer;
  const dot = line.querySelector(".sqm-layer");
  if (dot instanceof HTMLElement) dot.title = row.layer;
  box.append(line);
  if (!row.children) return box;
  const children = h("div", "sqm-children");
  box.append(children);
  let loaded = false;
  /** @param {Payload} page */
  const fill = (page) => {
    for (const child of page.rows) children.append(treeNode(child, api, depth + 1));
    if (page.more) {
      const more = button(page.more + " more calls (" + page.more_time + ")", async () => {
        more.disabled = true;
        try { fill(await api.request("children", { node: row.id, offset: page.offset + page.rows.length })); more.remove(); }
        catch (error) { more.replaceWith(failure(error)); }
      }, "sqm-more");
      children.append(more);
    }
  };
  /** @param {boolean} state */
  const open = (state) => {
    children.hidden = !state;
    toggle.textContent = state ? "▾" : "▸";
  };
  if (row.open) { fill(row.open); loaded = true; open(true); } else open(false);
  line.addEventListener("click", async () => {
    if (!children.hidden) { open(false); return; }
    open(true);
    if (!loaded) {
      loaded = true;
      try { fill(await api.request("children", { node: row.id, offset: 0 })); }
      catch (error) { children.append(failure(error)); }
    }
  });
  return box;
}

/** @type {TabRenderer} */
async function treeTab(panel, model, api) {
  const data = await api.request("tree");
  if (!data.root) {
    panel.append(h("p", "sqm-muted", "No call tree in this report."));
    return;
  }
  const legend = h("div", "sqm-muted sqm-tree-legend",
    "total ms · self ms · calls · share of the profiled time · ● layer. ",
    h("span", "sqm-name sqm-legend-cell", "bold"), ": your code; ",
    h("span", "sqm-kind", "SQLAlchemy"), " frames tinted; the hot path is open. Click a line to expand.");
  panel.append(legend, h("div", "sqm-tree", treeNode(data.root, api, 0)));
}

// -- memory, EXPLAIN, ORM ------------------------------------------------------------

/** @type {TabRenderer} */
async function memoryTab(panel, model, api) {
  const data = await api.request("memory");
  if (!data.present) { panel.append(h("p", "sqm-muted", data.message)); return; }
  panel.append(h("div", "sqm-figures", h("div", "sqm-figure", h("b", "", data.peak), data.label)),
    h("div", "sqm-muted", "Measured as " + data.explanation + "."));
  if (data.hint) panel.append(h("p", "sqm-muted", data.hint));
  if (data.lines.length) {
    const t = table(["line", "increment", "total", "peak", "runs", "source"],
      data.lines.map((/** @type {Payload} */ l) => [String(l.line), l.increment, l.total, l.peak, l.runs, h("code", "", l.source)]),
      [true, true, true, true, true]);
    data.lines.forEach((/** @type {Payload} */ l, /** @type {number} */ i) => { if (l.heavy) t.tBodies[0].rows[i].classList.add("sqm-heavy"); });
    panel.append(t);
    if (data.more_lines) panel.append(h("div", "sqm-muted", data.more_lines + " more lines"));
  }
}

/** @type {TabRenderer} */
async function explainTab(panel, model, api) {
  const plans = await api.request("explain");
  if (!plans.length) { panel.append(h("p", "sqm-muted", "No EXPLAIN plans (run without --no-explain, on a supported database).")); return; }
  for (const plan of plans) {
    const box = /** @type {HTMLDetailsElement} */ (h("details", "sqm-plan" + (plan.warnings.length ? " sqm-plan-warned" : "")));
    box.open = plan.warnings.length > 0;
    box.append(h("summary", "", h("b", "", plan.title), " (" + plan.dialect + ") ",
      plan.warnings.length ? h("span", "sqm-tag sqm-failed", plan.warnings.length + " warning" + (plan.warnings.length > 1 ? "s" : "")) : null,
      " ", h("code", "", plan.sql)));
    for (const warning of plan.warnings) box.append(h("div", "sqm-warn", h("b", "", warning.kind), ": " + warning.message));
    if (plan.note) box.append(h("div", "sqm-muted", plan.note));
    if (plan.sql_tokens.length) box.append(sqlBlock(plan.sql_tokens));
    const tree = h("div", "sqm-plan-tree");
    for (const node of plan.nodes) {
      const line = h("div", "sqm-plan-node" + (node.warned ? " sqm-warn" : ""), h("b", "", node.label),
        node.detail ? h("span", "sqm-muted", " " + node.detail) : null,
        node.figures ? h("span", "sqm-tag", node.figures) : null);
      line.style.paddingLeft = (node.depth * 18) + "px";
      tree.append(line);
    }
    if (plan.cut) tree.append(h("div", "sqm-muted", "more plan nodes not shown"));
    box.append(tree);
    panel.append(box);
  }
}

/** @type {TabRenderer} */
async function ormTab(panel, model, api) {
  const data = await api.request("orm");
  panel.append(h("div", "sqm-figures",
    h("div", "sqm-figure", h("b", "", data.orm_load), "ORM loading"),
    h("div", "sqm-figure", h("b", "", data.objects), "objects loaded"),
    data.per_object ? h("div", "sqm-figure", h("b", "", data.per_object), "per object") : null,
    h("div", "sqm-figure", h("b", "", data.mapper_config), "mapper config")));
  if (data.classes.length) {
    panel.append(h("h4", "", "Objects per mapped class"),
      table(["class", "objects", "share", "ORM time (est.)"], data.classes.map((/** @type {Payload} */ c) => [c.name, c.objects, c.share, c.estimate]), [false, true, true, true]),
      h("div", "sqm-muted", data.class_note));
  }
  if (data.functions.length) {
    panel.append(h("h4", "", "Row-to-object work in the call tree"),
      table(["function", "calls", "own time", "total time"], data.functions.map((/** @type {Payload} */ f) => [h("code", "", f.function), f.calls, f.self, f.total]), [false, true, true, true]));
  }
  if (data.relationships.length) {
    panel.append(h("h4", "", "Relationship loads"),
      table(["load", "statements", "database time", "rows"], data.relationships.map((/** @type {Payload} */ r) => [r.origin, r.statements, r.total, r.rows]), [false, true, true, true]));
  }
  if (!data.classes.length && !data.functions.length && !data.relationships.length) panel.append(h("p", "sqm-muted", "No ORM objects were loaded."));
}

/** @type {TabRenderer} */
async function compareTab(panel, model, api) {
  const data = await api.request("compare");
  if (!data) { panel.append(h("p", "sqm-muted", "No baseline: run the cell with --compare NAME.")); return; }
  panel.append(h("p", "sqm-muted", "This run against the report stored as " + data.names[0] +
    ". Times and memory within run-to-run noise read “no clear change”."), comparisonView(data));
}

/** @type {Record<string, TabRenderer>} */
const RENDERERS = {
  findings: findingsTab, compare: compareTab, statements: statementsTab, tree: treeTab,
  memory: memoryTab, explain: explainTab, orm: ormTab,
};

/**
 * The live view of a report: title, headline figures, tabs filled on demand.
 * @param {Model} model
 * @param {Api} api
 * @param {any} head the header payload
 * @returns {HTMLElement}
 */
function reportView(model, api, head) {
  const root = h("div", "sqm");
  root.append(h("div", "sqm-title", h("b", "", "sqla_magic"), head.context ? h("span", "sqm-muted", " " + head.context) : null));
  root.append(renderHeader(head));
  const bar = h("div", "sqm-tabs");
  bar.setAttribute("role", "tablist");
  const panels = h("div", "sqm-panels");
  /** @type {Record<string, HTMLElement>} */
  const built = {};
  /** @type {Record<string, HTMLElement>} */
  const buttons = {};
  /** @param {string} name */
  const show = (name) => {
    for (const [key, b] of Object.entries(buttons)) b.classList.toggle("sqm-active", key === name);
    for (const [key, p] of Object.entries(built)) p.hidden = key !== name;
    if (!built[name]) {
      const panel = h("div", "sqm-panel sqm-panel-" + name);
      panel.dataset.tab = name;
      built[name] = panel;
      panels.append(panel);
      RENDERERS[name](panel, model, api)
        .then(() => panel.classList.add("sqm-ready"))
        .catch((error) => panel.append(failure(error)));
    }
    if (model.get("tab") !== name) { model.set("tab", name); model.save_changes(); }
  };
  // The tabs and their order come from the kernel's registry; RENDERERS lays each one out.
  for (const { name, title, count } of head.tabs) {
    if (!RENDERERS[name]) continue;
    const b = button("", () => show(name), "sqm-tab sqm-tab-" + name);
    b.append(title);
    if (count) b.append(h("span", "sqm-count", count));
    b.setAttribute("role", "tab");
    buttons[name] = b;
    bar.append(b);
  }
  root.append(bar, panels);
  show(model.get("tab") || head.first_tab);
  return root;
}

/**
 * A widget displayed on its own (e.g. as a cell's last expression).
 * @param {{model: Model, el: HTMLElement}} context
 */
function render({ model, el }) {
  const api = client(model);
  el.append(reportView(model, api, model.get("header")));
  return () => api.dispose();
}

/**
 * The usual case: the cell's output is the static report, marked with this widget's
 * mount token.  Once the kernel answers, the live view takes the static report's place;
 * when the widget closes (the report was dropped) the static report comes back.  Where no
 * kernel answers (a restarted kernel, an exported page) nothing changes.
 * @param {{model: Model, signal: AbortSignal}} context
 */
function initialize({ model, signal }) {
  const token = model.get("mount");
  if (!token) return undefined;
  const api = client(model);
  /** @type {Set<HTMLElement>} */
  const hosts = new Set();
  /** @type {any} */
  let head = null;
  let pending = false;
  const mountAll = () => {
    pending = false;
    if (!head || signal.aborted) return;
    for (const host of Array.from(document.getElementsByClassName("sqm-mount-" + token))) {
      if (!(host instanceof HTMLElement) || host.querySelector(":scope > .sqm-live")) continue;
      for (const child of Array.from(host.children)) if (child instanceof HTMLElement) child.hidden = true;
      const live = reportView(model, api, head);
      live.classList.add("sqm-live");
      host.prepend(live);
      hosts.add(host);
    }
  };
  // Outputs are (re)rendered after the widget exists: watch for this report's output.
  const observer = new MutationObserver(() => {
    if (!pending) { pending = true; requestAnimationFrame(mountAll); }
  });
  const unmount = () => {
    observer.disconnect();
    for (const host of hosts) {
      for (const child of Array.from(host.children)) {
        if (!(child instanceof HTMLElement)) continue;
        if (child.classList.contains("sqm-live")) child.remove();
        else child.hidden = false;
      }
    }
    hosts.clear();
    api.dispose();
  };
  signal.addEventListener("abort", unmount);
  api.request("hello").then((answer) => {
    head = answer;
    observer.observe(document.body, { childList: true, subtree: true });
    mountAll();
  }).catch(() => { /* the kernel cannot show this report any more: the static report stays */ });
  return unmount;
}

export default { initialize, render };
