/* vmdash instance console card: tabs, the live console log (and, below, the terminals).
 *
 * The log socket (/ws/instances/<uuid>/log/) sends {"type":"log"} once and {"type":"output"} as
 * the guest prints. What the page knows of the guest's power state comes from live.js's deltas
 * (the "vmdash:instance" event): a console never "dies" silently, it says why it is quiet.
 */
(() => {
  "use strict";

  const card = document.querySelector("[data-console]");
  if (!card) return;
  const uuid = card.dataset.uuid;
  const RUNNING = 1;
  const MAX_TEXT = 200000;
  const POWER_WORDS = { 0: "has no state yet", 3: "is paused", 4: "is shut off", 6: "has crashed", 7: "is suspended" };
  const state = { power: Number(card.dataset.powerState), vm: card.dataset.vmState, task: null };
  window.vmdashConsole = state;

  // --- tabs ------------------------------------------------------------------------------
  const tabs = Array.from(card.querySelectorAll("[role=tab]"));
  function select(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      const panel = card.querySelector(`[data-panel="${t.dataset.tab}"]`);
      if (panel) panel.hidden = !on;
    }
    card.dispatchEvent(new CustomEvent("vmdash:tab", { detail: tab.dataset.tab }));
  }
  tabs.forEach((tab, n) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      const next = tabs[(n + step + tabs.length) % tabs.length];
      next.focus();
      select(next);
    });
  });
  const wanted = tabs.find((t) => `#${t.dataset.tab}` === location.hash) || tabs[0];
  select(wanted);

  function status(name, text, tone) {
    const el = card.querySelector(`[data-console-status="${name}"]`);
    if (!el) return;
    el.textContent = text;
    if (tone) el.dataset.tone = tone; else delete el.dataset.tone;
  }

  /** Why a console is quiet, in words, from the state the page holds; null while it runs. */
  function quietReason() {
    if (state.task === "rebooting" || state.task === "reboot_started" || state.task === "rebooting_hard" || state.task === "reboot_started_hard") {
      return "The guest is rebooting.";
    }
    if (state.power === RUNNING) return null;
    if (state.task) return `The guest is ${state.task.replaceAll("_", " ")}.`;
    return `The guest ${POWER_WORDS[state.power] || "is not running"}.`;
  }

  // --- the log ---------------------------------------------------------------------------
  const pre = card.querySelector("[data-console-log]");
  let logText = "";

  /** Apply a terminal's output to plain text: carriage returns dropped, backspaces erase. */
  function cook(text, into) {
    let out = into;
    for (const ch of text.replace(/\r/g, "")) {
      if (ch === "\b") out = out.slice(0, -1);
      else if (ch === "\x07") continue;
      else out += ch;
    }
    return out.length > MAX_TEXT ? out.slice(out.length - MAX_TEXT) : out;
  }
  function showLog(replace, text) {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    logText = cook(text, replace ? "" : logText);
    pre.textContent = logText;
    if (atBottom || replace) pre.scrollTop = pre.scrollHeight;
  }

  /** A socket that reconnects by itself, except after a refusal (4403/4404). */
  function keepOpen(url, handlers) {
    let socket = null;
    let delay = 500;
    let stopped = false;
    function open() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}${url}`);
      socket.onopen = () => { delay = 500; handlers.open && handlers.open(); };
      socket.onmessage = (e) => { try { handlers.message(JSON.parse(e.data)); } catch (err) { /* not ours */ } };
      socket.onclose = (e) => {
        socket = null;
        if (stopped) return;
        if (e.code === 4403 || e.code === 4404 || e.code === 4401) { handlers.refused && handlers.refused(e.code); return; }
        handlers.closed && handlers.closed(e.code);
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 5000);
      };
    }
    open();
    return { stop() { stopped = true; if (socket) socket.close(); }, get socket() { return socket; } };
  }

  if (pre) {
    let errorText = null;
    const logStatus = () => {
      if (errorText) { status("log", errorText, "danger"); return; }
      const quiet = quietReason();
      status("log", quiet ? `${quiet} The log is kept; it carries on when the guest runs again.` : "Following the console live.", quiet ? "warn" : "ok");
    };
    keepOpen(card.dataset.logUrl, {
      message(m) {
        if (m.type === "log") { errorText = null; showLog(true, m.data); logStatus(); }
        else if (m.type === "output") showLog(false, m.data);
        else if (m.type === "error") { errorText = m.message; logStatus(); }
      },
      open() { errorText = null; logStatus(); },
      closed() { if (!errorText) status("log", "Reconnecting…", "warn"); },
      refused() { logStatus(); },
    });
    document.addEventListener("vmdash:state", logStatus);
  }

  // --- the state the page holds, from live.js's deltas ------------------------------------
  document.addEventListener("vmdash:instance", (e) => {
    const d = e.detail;
    if (!d || d.id !== uuid) return;
    state.power = Number(d.power_state);
    state.vm = d.vm_state;
    state.task = d.task_state || null;
    document.dispatchEvent(new CustomEvent("vmdash:state", { detail: state }));
  });
})();
