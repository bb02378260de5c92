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
    bell.setAttribute("aria-label", `Notifications: ${d.unread} unread`);
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
