/* The page a novnc URL opens: noVNC on /ws/consoles/vnc/ with the URL's one-time token. */
import RFB from "../vendor/novnc/core/rfb.js";

const screen = document.getElementById("vnc-screen");
const status = document.getElementById("vnc-status");
const scheme = location.protocol === "https:" ? "wss" : "ws";
const _ = window.gettext || ((text) => text);
const token = new URLSearchParams(location.search).get("token") || "";
const rfb = new RFB(screen, `${scheme}://${location.host}/ws/consoles/vnc/?token=${encodeURIComponent(token)}`, {
  wsProtocols: ["binary"],
});
rfb.scaleViewport = true;
rfb.addEventListener("connect", () => {
  status.textContent = _("Connected.");
  status.dataset.tone = "ok";
});
rfb.addEventListener("disconnect", () => {
  status.textContent = _("Disconnected. A console URL opens one connection, once: ask for a new one to connect again.");
  status.dataset.tone = "warn";
});
