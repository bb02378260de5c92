/* Live status changes, told to screen readers politely and without flooding them.
 *
 * live.js paints each delta and hands it on as a "vmdash:instance" event. Here only a change of
 * an instance's API status (ACTIVE → SHUTOFF …) is worth saying — task_state steps are not,
 * they would be a stream of words. Changes are gathered for WINDOW ms after the first one and
 * said as one sentence in the polite live region (#live-announcer): one change names the
 * instance and its status; a burst names the first few and counts the rest. A status said once
 * is not said again.
 */
(() => {
  "use strict";
  const region = document.getElementById("live-announcer");
  const presentation = document.getElementById("presentation");
  if (!region || !presentation) return;
  const P = JSON.parse(presentation.textContent);
  const _ = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const fmt = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text.replace(/%\((\w+)\)s/g, (_m, k) => values[k]));
  const WINDOW = Number(region.dataset.window || 2000);
  const NAMED = 3;

  /** id → the status last known (from the page as served, then from the deltas). */
  const known = new Map();
  document.querySelectorAll("[data-instance]").forEach((node) => {
    const badge = node.querySelector('[data-bind="status"]');
    if (badge) known.set(node.dataset.instance, badge.dataset.value || "");
  });

  let pending = new Map(); // id → "name STATUS — description", the latest per instance
  let timer = null;

  function phrase(d) {
    // As the status badge reads: its label, then its explanation where the label is Nova's
    // identifier (zh-hans: "SHUTOFF — 已关机"; English: "Shutoff").
    const row = (P.badges.status || {})[d.status] || { label: d.status, description: "" };
    const name = d.name || d.id;
    return row.description ? `${name}: ${row.label} — ${row.description}` : `${name}: ${row.label}`;
  }

  function flush() {
    timer = null;
    const said = Array.from(pending.values());
    pending = new Map();
    if (!said.length) return;
    let text = said.slice(0, NAMED).join("; ");
    if (said.length > NAMED) {
      const more = said.length - NAMED;
      text = fmt(ngettext("%(changes)s; and %(more)s more change", "%(changes)s; and %(more)s more changes", more), { changes: text, more });
    }
    // A new text node each time, so the same words twice are still read.
    region.textContent = "";
    region.append(document.createTextNode(fmt(_("Status changed: %(changes)s"), { changes: text })));
  }

  document.addEventListener("vmdash:instance", (event) => {
    const d = event.detail;
    if (!d || !d.id || !("status" in d)) return;
    const before = known.get(d.id);
    known.set(d.id, d.status);
    if (before === undefined || before === d.status) return;
    pending.set(d.id, phrase(d));
    if (!timer) timer = setTimeout(flush, WINDOW);
  });
})();
