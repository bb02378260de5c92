/* vmdash instance console card: the serial console (xterm.js), the live console log, and the
 * graphical console (noVNC), all from static/vendor/ (no CDN).
 *
 * The log socket (/ws/instances/<uuid>/log/) sends {"type":"log"} once and {"type":"output"} as
 * the guest prints. The serial and VNC sockets need a one-time token each time they open
 * (POST /instances/<uuid>/console/<protocol>/). What the page knows of the guest's power state
 * comes from live.js's deltas (the "vmdash:instance" event): a console never "dies" silently —
 * it says the guest is stopped or rebooting, and reconnects by itself when the guest runs again.
 */
(() => {
  "use strict";

  const card = document.querySelector("[data-console]");
  if (!card) return;
  const uuid = card.dataset.uuid;
  const RUNNING = 1;
  const MAX_TEXT = 200000;
  const _ = window.gettext || ((text) => text);
  const fmt = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text.replace(/%\((\w+)\)s/g, (m, k) => values[k]));
  const POWER_WORDS = {
    0: _("The guest has no state yet."),
    3: _("The guest is paused."),
    4: _("The guest is shut off."),
    6: _("The guest has crashed."),
    7: _("The guest is suspended."),
  };
  const state = { power: Number(card.dataset.powerState), vm: card.dataset.vmState, task: card.dataset.taskState || null };
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

  function status(name, text, tone) {
    const el = card.querySelector(`[data-console-status="${name}"]`);
    if (!el) return;
    el.textContent = text;
    if (tone) el.dataset.tone = tone; else delete el.dataset.tone;
  }

  /** Why a console is quiet, in words, from the state the page holds; null while it runs. */
  function quietReason() {
    if (state.task && state.task.startsWith("reboot")) return _("The guest is rebooting.");
    if (state.power === RUNNING) return null;
    if (state.vm === "shelved_offloaded") return _("The instance is shelved and offloaded: it has no guest.");
    // The task keeps Nova's identifier (powering-off …), as the badges show it.
    if (state.task) return fmt(_("The guest is %(task)s."), { task: state.task.replaceAll("_", " ") });
    return POWER_WORDS[state.power] || _("The guest is not running.");
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
      status("log", quiet ? fmt(_("%(reason)s The log is kept; it carries on when the guest runs again."), { reason: quiet }) : _("Following the console live."), quiet ? "warn" : "ok");
    };
    keepOpen(card.dataset.logUrl, {
      message(m) {
        if (m.type === "log") { errorText = null; showLog(true, m.data); logStatus(); }
        else if (m.type === "output") showLog(false, m.data);
        else if (m.type === "error") { errorText = m.message; logStatus(); }
      },
      open() { errorText = null; logStatus(); },
      closed() { if (!errorText) status("log", _("Reconnecting…"), "warn"); },
      refused() { logStatus(); },
    });
    document.addEventListener("vmdash:state", logStatus);
  }

  // --- one-time tokens -------------------------------------------------------------------
  async function token(protocol) {
    const csrf = card.querySelector("input[name=csrfmiddlewaretoken]");
    const answer = await fetch(`${card.dataset.tokenUrl}${protocol}/`, {
      method: "POST",
      headers: { "X-CSRFToken": csrf ? csrf.value : "" },
      credentials: "same-origin",
    });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(body.message || fmt(_("The console could not be opened (%(status)s)."), { status: answer.status }));
    return body.token;
  }
  const wsBase = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;

  /** A console that is open while the guest runs, waits while it does not, and comes back. */
  function guestConsole(name, { open, close, tell }) {
    let live = false;       // a connection is open or opening
    let wanted = false;     // its tab has been shown
    let retry = null;
    let delay = 500;
    const say = (text, tone) => status(name, text, tone);
    async function connect() {
      if (!wanted || live) return;
      const quiet = quietReason();
      if (quiet && state.power !== RUNNING) {
        say(fmt(_("%(reason)s The console reconnects by itself when it runs again."), { reason: quiet }), "warn");
        return;
      }
      live = true;
      say(_("Connecting…"));
      try {
        const t = await token(name === "graphics" ? "vnc" : "serial");
        await open(t, {
          opened() { delay = 500; const q = quietReason(); say(q || _("Connected."), q ? "warn" : "ok"); },
          ended(refusal) {
            live = false;
            if (refusal) { say(refusal, "danger"); return; }
            const q = quietReason();
            if (q && state.power !== RUNNING) { say(fmt(_("%(reason)s The console reconnects by itself when it runs again."), { reason: q }), "warn"); return; }
            say(_("Connection lost — reconnecting…"), "warn");
            clearTimeout(retry);
            retry = setTimeout(connect, delay);
            delay = Math.min(delay * 2, 5000);
          },
        });
      } catch (err) {
        live = false;
        say(err.message, "danger");
        clearTimeout(retry);
        retry = setTimeout(connect, Math.max(delay, 3000));
      }
    }
    document.addEventListener("vmdash:state", () => {
      const q = quietReason();
      if (state.power !== RUNNING) {
        if (live) { tell && tell(q); close(); }
        else if (wanted) say(fmt(_("%(reason)s The console reconnects by itself when it runs again."), { reason: q }), "warn");
      } else if (!live) {
        connect();
      } else {
        say(q || _("Connected."), q ? "warn" : "ok");
      }
    });
    return { show() { wanted = true; connect(); } };
  }

  // --- the serial console ----------------------------------------------------------------
  const termBox = card.querySelector("[data-terminal]");
  let serial = null;
  if (termBox && window.Terminal) {
    const term = new window.Terminal({ convertEol: false, cursorBlink: true, fontSize: 13, scrollback: 5000,
      theme: { background: "#0b1020" } });
    const fit = window.FitAddon ? new window.FitAddon.FitAddon() : null;
    if (fit) term.loadAddon(fit);
    let socket = null;
    window.vmdashTerminal = term;
    term.onData((data) => {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "input", data }));
    });
    serial = guestConsole("console", {
      open(t, { opened, ended }) {
        return new Promise((resolve) => {
          let refusal = null;
          socket = new WebSocket(`${wsBase()}/ws/consoles/serial/?token=${encodeURIComponent(t)}`);
          socket.onmessage = (e) => {
            const m = JSON.parse(e.data);
            if (m.type === "output") term.write(m.data);
            else if (m.type === "screen") { term.reset(); term.write(m.data); }
            else if (m.type === "hello") { opened(); term.focus(); }
            else if (m.type === "error") refusal = m.message;
          };
          socket.onclose = () => { socket = null; ended(refusal); };
          resolve();
        });
      },
      close() { if (socket) socket.close(); },
      tell(reason) { term.write(`\r\n\x1b[33m[vmdash] ${fmt(_("%(reason)s The console reconnects when it runs again."), { reason })}\x1b[0m\r\n`); },
    });
    card.addEventListener("vmdash:tab", (e) => {
      if (e.detail !== "console") return;
      if (!term.element) term.open(termBox);
      if (fit) setTimeout(() => fit.fit(), 0);
      serial.show();
    });
    window.addEventListener("resize", () => { if (fit && term.element) fit.fit(); });
  }

  // --- the graphical console (noVNC) ------------------------------------------------------
  const vncBox = card.querySelector("[data-vnc]");
  if (vncBox) {
    let rfb = null;
    const graphics = guestConsole("graphics", {
      async open(t, { opened, ended }) {
        const { default: RFB } = await import(`${card.dataset.vendor}novnc/core/rfb.js`);
        vncBox.textContent = "";
        rfb = new RFB(vncBox, `${wsBase()}/ws/consoles/vnc/?token=${encodeURIComponent(t)}`, { wsProtocols: ["binary"] });
        rfb.scaleViewport = true;
        rfb.addEventListener("connect", opened);
        rfb.addEventListener("disconnect", (e) => { rfb = null; ended(e.detail.clean ? null : null); });
      },
      close() { if (rfb) rfb.disconnect(); },
    });
    card.addEventListener("vmdash:tab", (e) => { if (e.detail === "graphics") graphics.show(); });
  }

  // --- the charts (uPlot) -------------------------------------------------------------------
  const chartsBox = card.querySelector(".charts");
  if (chartsBox && window.uPlot) {
    const HOUR = 3600 * 1000;
    const rows = [];
    const plots = {};
    let timer = null;
    let shown = false;
    let interval = 10;
    const series = {
      cpu: [{ label: _("CPU %"), stroke: "#2563eb", fill: "rgba(37,99,235,.12)" }],
      memory: [{ label: _("used"), stroke: "#7c3aed" }, { label: _("maximum"), stroke: "#94a3b8", dash: [4, 4] }],
      disk: [{ label: _("read"), stroke: "#16a34a" }, { label: _("write"), stroke: "#d97706" }],
      net: [{ label: "rx", stroke: "#0891b2" }, { label: "tx", stroke: "#db2777" }],
    };
    const columns = { cpu: [1], memory: [2, 3], disk: [4, 5], net: [6, 7] };
    const compact = (v) => (v == null ? "" : Math.abs(v) >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toFixed(1)}`);
    function data(name) {
      return [rows.map((r) => r[0] / 1000), ...columns[name].map((c) => rows.map((r) => r[c]))];
    }
    function draw() {
      for (const name of Object.keys(series)) {
        const fig = chartsBox.querySelector(`[data-chart="${name}"]`);
        if (!plots[name]) {
          const width = Math.max(280, fig.clientWidth - 16);
          plots[name] = new window.uPlot({
            width, height: 150, legend: { show: true }, cursor: { show: true },
            scales: { y: { range: name === "cpu" ? [0, 100] : undefined } },
            axes: [{}, { size: 52, values: (u, vals) => vals.map(compact) }],
            series: [{}, ...series[name].map((s) => ({ ...s, width: 1.5 }))],
          }, data(name), fig);
        } else {
          plots[name].setData(data(name));
        }
      }
    }
    async function poll() {
      const since = rows.length ? rows[rows.length - 1][0] : "";
      try {
        const answer = await fetch(`${card.dataset.samplesUrl}?since=${since}`, { credentials: "same-origin" });
        const body = await answer.json();
        if (!answer.ok) throw new Error(body.message || _("The samples could not be read."));
        interval = body.interval || interval;
        rows.push(...body.samples);
        const oldest = Date.now() - HOUR;
        while (rows.length && rows[0][0] < oldest) rows.shift();
        draw();
        chartsState();
      } catch (err) {
        status("charts", err.message, "danger");
      }
    }
    function chartsState() {
      const quiet = quietReason();
      const paused = state.power !== RUNNING;
      chartsBox.classList.toggle("is-paused", paused);
      if (interval <= 0) status("charts", _("Sampling is off on this dashboard (DIAGNOSTICS_INTERVAL)."), "warn");
      else if (paused) status("charts", fmt(_("Paused: %(reason)s Nothing is sampled until it runs again."), { reason: quiet }), "warn");
      else if (!rows.length) status("charts", fmt(_("Waiting for the first samples (every %(interval)s s)…"), { interval }));
      else status("charts", fmt(_("Live: a sample every %(interval)s s."), { interval }), "ok");
    }
    function schedule() {
      clearInterval(timer);
      timer = null;
      chartsState();
      if (shown && state.power === RUNNING && interval > 0) {
        timer = setInterval(poll, Math.max(1, interval) * 1000);
      }
    }
    card.addEventListener("vmdash:tab", (e) => {
      shown = e.detail === "charts";
      if (shown) poll().then(schedule); else schedule();
    });
    document.addEventListener("vmdash:state", schedule);
    window.vmdashCharts = { rows, plots };
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

  const first = tabs.find((t) => `#${t.dataset.tab}` === location.hash) || tabs[0];
  select(first);
})();
