/* vmdash live updates — plain JS, no library, no build step.
 *
 * One WebSocket per tab (/ws/live/). On every (re)connect the page sends
 * {"type":"resume","since":<last seq>} and gets every visible event after it, then
 * "caught_up" (or "resync": reload, the outbox no longer reaches back that far).
 * Each event is a per-object delta with the object's version; an element shows a delta only if
 * it is newer than the version it holds (data-version). Badges are drawn from the presentation
 * map the server serialised into the page (#presentation), never from a table of our own.
 * If the socket cannot be opened at all, the page polls /live/poll?since=<seq> instead and says
 * so; the indicator in the top bar always says which of live / reconnecting / polling / offline.
 */
(() => {
  "use strict";

  // The page's language, from Django's JavaScript catalogue (English when it is missing).
  const _ = window.gettext || ((text) => text);
  const fmt = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text.replace(/%\((\w+)\)s/g, (_m, k) => values[k]));
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));

  const body = document.body;
  const presentationEl = document.getElementById("presentation");
  if (!presentationEl || !body.dataset.pollUrl) return;
  const P = JSON.parse(presentationEl.textContent);
  const clockOffset = Number(body.dataset.now || Date.now()) - Date.now();
  const serverNow = () => Date.now() + clockOffset;

  const BACKOFF_MIN = 500;
  const BACKOFF_MAX = 5000;
  const OFFLINE_AFTER = 10000;
  const POLL_EVERY = 3000;
  const RETRY_SOCKET_EVERY = 30000;
  const PING_EVERY = 20000;
  const PONG_WITHIN = 8000;

  const live = {
    seq: Number(body.dataset.seq) || 0,
    pendingSeq: 0,
    caughtUp: false,
    admin: body.dataset.admin === "1",
    project: body.dataset.project || "",
    mode: "connecting",
    modeSince: new Date(),
    socket: null,
    attempts: 0,
    failedOpens: 0,
    everOpened: false,
    polling: false,
    pollTimer: null,
    retryTimer: null,
    hostStatus: new Map(),
    hostStatusVersion: new Map(),
    deltas: 0,
    newInstances: new Map(),
  };
  window.vmdashLive = live;

  // --- the indicator ---------------------------------------------------------------------
  const indicator = document.getElementById("live-indicator");
  const clock = (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function setMode(mode) {
    if (live.mode !== mode) {
      live.mode = mode;
      live.modeSince = new Date();
    }
    if (!indicator) return;
    indicator.dataset.state = mode;
    const since = clock(live.modeSince);
    const text = {
      connecting: _("Connecting…"),
      live: _("Live"),
      reconnecting: fmt(_("Reconnecting… (since %(since)s)"), { since }),
      offline: fmt(_("Offline since %(since)s — retrying"), { since }),
      polling: _("Polling every 3 s — WebSocket unavailable"),
      "signed-out": _("Signed out — log in again"),
    }[mode];
    indicator.querySelector(".live-text").textContent = text;
    indicator.title =
      mode === "live"
        ? _("Updates arrive the moment they happen.")
        : mode === "polling"
          ? _("The WebSocket could not connect; the page asks the server for changes every 3 seconds.")
          : text;
  }

  // --- badges and bindings -----------------------------------------------------------------
  function badgeInfo(kind, value) {
    const raw = value === null || value === undefined ? "" : String(value);
    if (!raw && P.none[kind]) {
      const none = P.none[kind];
      return { label: none.label, tone: none.tone, value: "", description: none.description };
    }
    const row = (P.badges[kind] || {})[raw];
    return row
      ? { label: row.label, tone: row.tone, value: raw, description: row.description }
      : { label: raw || "—", tone: "warn", value: raw, description: "" };
  }

  function paintBadge(el, kind, value) {
    const b = badgeInfo(kind, value);
    const base = `${P.kinds[kind]}: ${b.value || "none"}`;
    const title = b.description ? `${base} — ${b.description}` : base;
    const changed = el.title !== title;
    el.className = `badge tone-${b.tone}`;
    el.title = title;
    el.dataset.value = b.value;
    el.setAttribute("aria-label", title);
    el.textContent = "";
    if (kind === "task_state" && b.value) {
      const spin = document.createElement("span");
      spin.className = "spinner";
      spin.setAttribute("aria-hidden", "true");
      el.append(spin);
    }
    el.append(b.label);
    if (changed) {
      el.classList.remove("flash");
      void el.offsetWidth; // restart the animation
      el.classList.add("flash");
    }
  }

  function each(root, name, fn) {
    root.querySelectorAll(`[data-bind="${name}"]`).forEach(fn);
  }

  function applyInstance(d) {
    const nodes = document.querySelectorAll(`[data-instance="${CSS.escape(d.id)}"]`);
    let applied = false;
    nodes.forEach((node) => {
      if (d.version <= Number(node.dataset.version || 0)) return;
      node.dataset.version = String(d.version);
      applied = true;
      for (const kind of ["status", "vm_state", "task_state", "power_state"]) {
        each(node, kind, (el) => paintBadge(el, kind, d[kind]));
      }
      each(node, "name", (el) => { el.textContent = d.name; });
      each(node, "locked", (el) => { el.hidden = !d.locked; });
      each(node, "deleted", (el) => { el.hidden = !d.deleted; });
      // A verdict computed when the page was rendered no longer holds once the state moved on.
      each(node, "stale-on-change", (el) => {
        el.textContent = "—";
        el.title = _("The instance changed since this page was loaded; reload to check again.");
      });
      each(node, "elapsed", (el) => {
        if (d.task_state && d.task_started_at) {
          el.dataset.since = d.task_started_at;
          el.hidden = false;
          tickOne(el);
        } else {
          delete el.dataset.since;
          el.hidden = true;
          el.textContent = "";
        }
      });
      each(node, "progress", (el) => {
        const long = !!d.task_state && P.longTasks.includes(d.task_state);
        el.hidden = !long;
        el.setAttribute("aria-valuenow", String(d.progress));
        const bar = el.querySelector("span");
        if (bar) bar.style.width = `${d.progress}%`;
        const label = el.querySelector("em");
        if (label) label.textContent = `${d.progress}%`;
      });
      each(node, "sync-hint", (el) => {
        const hint = d.task_state ? null : (P.syncHints[d.vm_state] || {})[String(d.power_state)];
        el.hidden = !hint;
        el.textContent = hint || "";
      });
      if ("host" in d) {
        each(node, "host", (el) => {
          el.textContent = d.host || "—";
          if (el.tagName === "A") el.setAttribute("href", d.host ? `/hosts/${encodeURIComponent(d.host)}/` : "#");
        });
        rekeyHostStatusCells(node, d.host);
        if (node.dataset.onHost && d.host !== node.dataset.onHost) {
          each(node, "moved", (el) => {
            el.hidden = false;
            el.textContent = d.host ? fmt(_("Moved to %(host)s"), { host: d.host }) : _("No longer on this host");
          });
        }
      }
      if ("host_id" in d) rekeyHostStatusCells(node, d.host_id);
      node.classList.toggle("is-busy", !!d.task_state);
      node.classList.toggle("is-deleted", !!d.deleted);
    });
    // The console card (console.js) follows the instance's states too.
    if (applied) document.dispatchEvent(new CustomEvent("vmdash:instance", { detail: d }));
    if (!nodes.length) noticeNew(d);
    return applied || !nodes.length;
  }

  function paintHostStatusCell(cell, status) {
    let badge = cell.querySelector(".badge");
    if (!badge) {
      cell.textContent = "";
      badge = document.createElement("span");
      cell.append(badge);
    }
    paintBadge(badge, "host_status", status);
  }

  // A row's host_status cells follow its host: an admin's keyed by the host's name, a
  // member's by the opaque hostId; painted at once with what is known of the new key.
  function rekeyHostStatusCells(node, key) {
    if (!key) return;
    node.querySelectorAll("[data-host-status-of]").forEach((el) => {
      if (el.dataset.hostStatusOf === key) return;
      el.dataset.hostStatusOf = key;
      if (live.hostStatus.has(key)) paintHostStatusCell(el, live.hostStatus.get(key));
    });
  }

  // Every host_status cell of one key: the status, or a dash where policy hides it now.
  function paintHostStatusKey(key, status) {
    document.querySelectorAll(`[data-host-status-of="${CSS.escape(key)}"]`).forEach((cell) => {
      if (status) paintHostStatusCell(cell, status);
      else cell.innerHTML = '<span class="muted">—</span>';
    });
  }

  function applyHost(d) {
    live.hostStatus.set(d.host, d.host_status);
    paintHostStatusKey(d.host, d.host_status);
    document.querySelectorAll(`[data-host-id="${CSS.escape(d.id)}"]`).forEach((node) => {
      if (d.version <= Number(node.dataset.version || 0)) return;
      node.dataset.version = String(d.version);
      each(node, "host_status", (el) => paintBadge(el, "host_status", d.host_status));
      each(node, "service", (el) => paintBadge(el, "service", d.status));
      each(node, "disabled_reason", (el) => { el.textContent = d.disabled_reason || ""; });
      each(node, "forced_down", (el) => {
        el.className = d.forced_down ? "badge tone-danger" : "muted";
        el.textContent = d.forced_down ? _("Forced down") : _("no");
      });
      each(node, "heartbeat", (el) => {
        if (d.last_seen_up) {
          el.dataset.since = d.last_seen_up;
          tickOne(el);
        }
      });
    });
  }

  // A member's view of a host change: the host_status of their instances on it, keyed by the
  // opaque per-project hostId (null where policy hides the value now).
  function applyHostStatus(d) {
    if (d.version <= (live.hostStatusVersion.get(d.id) || 0)) return;
    live.hostStatusVersion.set(d.id, d.version);
    if (d.host_status) live.hostStatus.set(d.id, d.host_status);
    else live.hostStatus.delete(d.id);
    paintHostStatusKey(d.id, d.host_status);
  }

  // --- instances that are not on the page ------------------------------------------------
  function noticeNew(d) {
    const notice = document.getElementById("new-instances");
    if (!notice || d.type !== "instance" || d.deleted || d.version !== 1) return;
    if (live.project && d.project_id !== live.project) return;
    live.newInstances.set(d.id, d.name);
    const names = [...live.newInstances.values()];
    notice.querySelector(".notice-text").textContent =
      names.length === 1
        ? fmt(_("New instance: %(name)s"), { name: names[0] })
        : fmt(ngettext("%(count)s new instance: %(names)s", "%(count)s new instances: %(names)s", names.length), {
            count: names.length,
            names: names.slice(0, 3).join(", ") + (names.length > 3 ? "…" : ""),
          });
    notice.hidden = false;
  }

  // --- fragments the server re-renders (buttons, action log, counts) ------------------------
  const fragmentTimers = new WeakMap();

  function refreshFragments(tokens) {
    document.querySelectorAll("[data-fragment][data-watch]").forEach((el) => {
      const watch = el.dataset.watch.split(/\s+/);
      if (!watch.some((w) => w === "any" || tokens.includes(w))) return;
      clearTimeout(fragmentTimers.get(el));
      const wait = Number(el.dataset.debounce || 150); // summaries of many objects wait longer
      fragmentTimers.set(el, setTimeout(() => loadFragment(el), wait));
    });
  }

  const fragmentLoads = new WeakMap(); // the newest request per fragment; older answers are dropped

  function inUse(el) {
    return el.querySelector("details[open]") || el.contains(document.activeElement) && document.activeElement.matches("input, select, textarea");
  }

  async function loadFragment(el) {
    // Never pull a form from under the user: refresh once the popover closes. Asked again when
    // the answer arrives, since the user may have opened the form while it was on its way.
    if (inUse(el)) {
      el.dataset.stale = "1";
      return;
    }
    const load = (fragmentLoads.get(el) || 0) + 1;
    fragmentLoads.set(el, load);
    try {
      const response = await fetch(el.dataset.fragment, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
      if (fragmentLoads.get(el) !== load) return;
      if (response.ok) {
        const html = await response.text();
        if (fragmentLoads.get(el) !== load) return;
        if (inUse(el)) {
          el.dataset.stale = "1";
          return;
        }
        el.innerHTML = html;
        delete el.dataset.stale;
        document.dispatchEvent(new CustomEvent("vmdash:fragment", { detail: el }));
      } else if (response.status === 404) {
        el.innerHTML = '<p class="muted">This instance no longer exists.</p>';
      }
    } catch (_) {
      el.dataset.stale = "1";
    }
  }

  document.addEventListener("toggle", (event) => {
    const host = event.target.closest && event.target.closest("[data-fragment][data-stale]");
    if (host && !host.querySelector("details[open]")) loadFragment(host);
  }, true);

  // --- one message from the socket or the poll ------------------------------------------------
  function onDelta(message) {
    live.deltas += 1;
    const d = message.delta;
    if (live.caughtUp) live.seq = Math.max(live.seq, message.seq);
    else live.pendingSeq = Math.max(live.pendingSeq, message.seq);
    if (d.type === "instance") {
      applyInstance(d);
      refreshFragments([`instance:${d.id}`]);
    } else if (d.type === "host") {
      applyHost(d);
      refreshFragments([`host:${d.id}`]);
    } else if (d.type === "host_status") {
      applyHostStatus(d);
    } else if (d.type === "notification") {
      // The user's own bell (static/js/bell.js paints it).
      document.dispatchEvent(new CustomEvent("vmdash:notification", { detail: d }));
    }
  }

  function caughtUp() {
    live.caughtUp = true;
    live.seq = Math.max(live.seq, live.pendingSeq);
    live.pendingSeq = 0;
  }

  // --- the socket ----------------------------------------------------------------------------
  function connect() {
    clearTimeout(live.retryTimer);
    if (live.socket) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws/live/`);
    } catch (_) {
      socketFailed(false);
      return;
    }
    live.socket = ws;
    let opened = false;
    let finished = false;
    const openTimer = setTimeout(() => { if (!opened) abandon(); }, 6000);
    // A half-open connection (a laptop waking up, a dropped route) never fires "close": ping,
    // and treat a missing pong as a lost connection.
    let pongTimer = null;
    let abandon = () => ws.close();
    const pinger = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(JSON.stringify({ type: "ping" }));
      clearTimeout(pongTimer);
      pongTimer = setTimeout(() => abandon(), PONG_WITHIN);
    }, PING_EVERY);
    ws.addEventListener("open", () => {
      opened = true;
      clearTimeout(openTimer);
      live.everOpened = true;
      live.failedOpens = 0;
    });
    ws.addEventListener("message", (event) => {
      if (finished) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (message.type === "hello") {
        live.caughtUp = false;
        ws.send(JSON.stringify({ type: "resume", since: live.seq }));
      } else if (message.type === "delta") {
        onDelta(message);
      } else if (message.type === "resync") {
        location.reload();
      } else if (message.type === "pong") {
        clearTimeout(pongTimer);
      } else if (message.type === "caught_up") {
        caughtUp();
        live.attempts = 0;
        stopPolling();
        setMode("live");
      }
    });
    function lost(code) {
      if (finished) return;
      finished = true;
      clearTimeout(openTimer);
      clearInterval(pinger);
      clearTimeout(pongTimer);
      if (live.socket === ws) live.socket = null;
      live.caughtUp = false;
      if (code === 4401) {
        stopPolling();
        setMode("signed-out");
        return;
      }
      socketFailed(opened);
    }
    ws.addEventListener("close", (event) => lost(event.code));
    abandon = () => {
      ws.close();
      lost(1006);
    };
  }

  // A refused handshake looks the same as a server that is down; ask the poll endpoint which.
  async function signedOut() {
    try {
      const response = await fetch(`${body.dataset.pollUrl}?since=${live.seq}`, { credentials: "same-origin", cache: "no-store" });
      return response.status === 401;
    } catch (_) {
      return false;
    }
  }

  async function socketFailed(hadOpened) {
    if (!hadOpened) live.failedOpens += 1;
    if (!hadOpened && live.everOpened && (await signedOut())) {
      stopPolling();
      setMode("signed-out");
      return;
    }
    if (!live.everOpened && live.failedOpens >= 2) {
      // The socket never worked from this page: a proxy without WebSockets, most likely.
      startPolling();
      live.retryTimer = setTimeout(connect, RETRY_SOCKET_EVERY);
      return;
    }
    if (live.polling) {
      live.retryTimer = setTimeout(connect, RETRY_SOCKET_EVERY);
      return;
    }
    const lostFor = live.mode === "reconnecting" || live.mode === "offline" ? Date.now() - live.modeSince : 0;
    if (!navigator.onLine || lostFor > OFFLINE_AFTER) {
      if (live.mode !== "offline") setMode("offline");
    } else if (live.mode !== "reconnecting") {
      setMode("reconnecting");
    }
    const delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** live.attempts) * (0.75 + Math.random() * 0.5);
    live.attempts += 1;
    live.retryTimer = setTimeout(connect, delay);
  }

  // --- the polling fallback ------------------------------------------------------------------
  function startPolling() {
    if (live.polling) return;
    live.polling = true;
    poll();
  }

  function stopPolling() {
    live.polling = false;
    clearTimeout(live.pollTimer);
  }

  async function poll() {
    if (!live.polling) return;
    try {
      const response = await fetch(`${body.dataset.pollUrl}?since=${live.seq}`, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) {
        stopPolling();
        setMode("signed-out");
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      live.caughtUp = true;
      data.messages.forEach(onDelta);
      if (data.resync) {
        location.reload();
        return;
      }
      live.seq = Math.max(live.seq, data.seq);
      setMode("polling");
    } catch (_) {
      if (live.mode !== "offline") setMode("offline");
    }
    live.pollTimer = setTimeout(poll, POLL_EVERY);
  }

  // --- ages and durations ----------------------------------------------------------------------
  function duration(ms, coarse) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return fmt(_("%(s)s s"), { s });
    const m = Math.floor(s / 60);
    if (m < 60) return coarse ? fmt(_("%(m)s min"), { m }) : fmt(_("%(m)s min %(s)s s"), { m, s: s % 60 });
    const h = Math.floor(m / 60);
    return h < 48 ? fmt(_("%(h)s h %(m)s min"), { h, m: m % 60 }) : fmt(_("%(d)s days"), { d: Math.floor(h / 24) });
  }

  function tickOne(el) {
    const since = Date.parse(el.dataset.since);
    if (Number.isNaN(since)) return;
    const ms = serverNow() - since;
    el.textContent = el.classList.contains("elapsed")
      ? fmt(_("for %(duration)s"), { duration: duration(ms, false) })
      : fmt(_("%(duration)s ago"), { duration: duration(ms, true) });
  }

  function tick() {
    document.querySelectorAll(".elapsed[data-since], .age[data-since]").forEach(tickOne);
  }

  // Heartbeats are stamped every few seconds but not published (they change only an age).
  async function refreshHeartbeats() {
    if (!document.querySelector("[data-host-id] [data-bind=heartbeat]")) return;
    try {
      const response = await fetch("/hosts/heartbeats/", { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return;
      const data = await response.json();
      for (const [id, seen] of Object.entries(data.hosts)) {
        document.querySelectorAll(`[data-host-id="${CSS.escape(id)}"] [data-bind=heartbeat]`).forEach((el) => {
          if (seen) {
            el.dataset.since = seen;
            tickOne(el);
          }
        });
      }
    } catch (_) {
      /* the indicator already says when the server is unreachable */
    }
  }

  live.apply = onDelta; // the entry the socket and the poll use, for tests and debugging

  window.addEventListener("online", () => { if (!live.socket) connect(); });
  window.addEventListener("offline", () => setMode("offline"));

  document.querySelectorAll("[data-host-status-of] .badge").forEach((badge) => {
    const cell = badge.closest("[data-host-status-of]");
    const value = badge.dataset.value || "";
    if (value) live.hostStatus.set(cell.dataset.hostStatusOf, value);
  });

  setMode("connecting");
  tick();
  setInterval(tick, 1000);
  setInterval(refreshHeartbeats, 5000);
  if ("WebSocket" in window) connect();
  else startPolling();
})();
