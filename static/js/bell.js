/* The notifications bell: its unread count, pushed live through the user's own socket group.
 * live.js hands each "notification" delta on as a "vmdash:notification" event; the bell shows
 * the delta's count (the newest notification's is the newest count) and its title briefly. */
(() => {
  "use strict";
  let newest = 0;
  document.addEventListener("vmdash:notification", (event) => {
    const d = event.detail;
    if (!d || d.version <= newest) return;
    newest = d.version;
    const bell = document.getElementById("bell");
    const count = document.getElementById("bell-count");
    if (!bell || !count) return;
    bell.dataset.unread = String(d.unread);
    const _ = window.gettext || ((text) => text);
    const label = _("Notifications: %(count)s unread");
    bell.setAttribute("aria-label", window.interpolate ? window.interpolate(label, { count: d.unread }, true) : label.replace("%(count)s", d.unread));
    count.textContent = String(d.unread);
    count.hidden = d.unread === 0;
    const toast = document.getElementById("bell-toast");
    if (toast) {
      toast.textContent = d.title;
      toast.hidden = false;
      clearTimeout(toast._timer);
      toast._timer = setTimeout(() => { toast.hidden = true; }, 8000);
    }
  });
})();

/* The task dock: load its fragment when opened (live.js re-renders it on every change after). */
(() => {
  "use strict";
  const dock = document.getElementById("task-dock");
  if (!dock) return;
  dock.addEventListener("toggle", async () => {
    if (!dock.open) return;
    const body = dock.querySelector("[data-fragment]");
    const response = await fetch(body.dataset.fragment, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    if (response.ok) body.innerHTML = await response.text();
  });
  document.addEventListener("vmdash:fragment", (event) => {
    const head = event.detail && event.detail.querySelector && event.detail.querySelector(".dock-head strong");
    const count = document.getElementById("dock-count");
    if (head && count) count.textContent = head.textContent;
  });
})();
