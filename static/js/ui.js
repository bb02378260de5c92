/* vmdash page behaviour — plain JS, no library. Everything here is a convenience: without
 * scripts, destructive actions get a confirmation page from the server and the project
 * switcher has a button. */
(() => {
  "use strict";

  const _ = window.gettext || ((text) => text);
  const fmt = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text.replace(/%\((\w+)\)s/g, (_m, k) => values[k]));
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));

  // --- confirmation of destructive actions --------------------------------------------------
  const dialog = document.getElementById("confirm-dialog");

  function confirmThen(text, title, proceed) {
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(text)) proceed();
      return;
    }
    dialog.querySelector("#confirm-title").textContent = title;
    dialog.querySelector("#confirm-body").textContent = text;
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "confirm") proceed();
    });
    dialog.showModal();
    dialog.querySelector("#confirm-ok").focus();
  }

  function submitConfirmed(form, submitter) {
    const flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "confirmed";
    flag.value = "yes";
    form.append(flag);
    markPending(submitter);
    form.submit();
  }

  function markPending(button) {
    if (!button || button.tagName !== "BUTTON") return;
    setTimeout(() => {
      button.disabled = true;
      button.classList.add("is-pending");
      button.insertAdjacentHTML("afterbegin", '<span class="spinner" aria-hidden="true"></span>');
    }, 0);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    const submitter = event.submitter;
    if (form.matches("[data-bulk]")) {
      const option = form.querySelector("select[name=action] option:checked");
      const count = document.querySelectorAll('input[name=instance][form="bulk-form"]:checked').length;
      if (!count) {
        event.preventDefault();
        window.alert(_("Select at least one instance first."));
        return;
      }
      if (option && option.dataset.destructive === "1") {
        event.preventDefault();
        confirmThen(
          fmt(ngettext("%(action)s %(count)s instance? %(summary)s", "%(action)s %(count)s instances? %(summary)s", count), {
            action: option.textContent,
            count,
            summary: option.dataset.summary || "",
          }),
          fmt(_("%(action)s?"), { action: option.textContent }),
          () => submitConfirmed(form, submitter),
        );
        return;
      }
      markPending(submitter);
      return;
    }
    // A form asks, or the destructive choice picked in it does (a hard reboot, not a soft one).
    const question = form.dataset.confirm || form.querySelector("input[type=radio]:checked[data-confirm]")?.dataset.confirm;
    if (question && !form.querySelector("input[name=confirmed]")) {
      event.preventDefault();
      confirmThen(question, _("Are you sure?"), () => submitConfirmed(form, submitter));
      return;
    }
    if (form.method.toLowerCase() === "post") markPending(submitter);
  });

  // --- selection for bulk actions ------------------------------------------------------------
  function updateCount() {
    const count = document.querySelectorAll('input[name=instance][form="bulk-form"]:checked').length;
    document.querySelectorAll("[data-selected-count]").forEach((el) => { el.textContent = String(count); });
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("[data-select-all]")) {
      const table = target.closest("table");
      table.querySelectorAll("tbody input[type=checkbox][name=instance]:not(:disabled)").forEach((box) => {
        box.checked = target.checked;
      });
    }
    if (target.matches("[data-theme-switch] select")) {
      setTheme(target.form, target.value);
    } else if (target.matches("[data-autosubmit]")) {
      target.form.submit();
    }
    updateCount();
  });
  updateCount();

  // --- colour theme: switch at once, save for the user in the background ------------------------
  function setTheme(form, theme) {
    document.documentElement.dataset.theme = theme;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then((answer) => {
      if (!answer.ok) form.submit(); // let the server say what went wrong
    }, () => form.submit());
  }

  // --- messages, popovers ----------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const close = event.target.closest("[data-dismiss]");
    if (close) close.parentElement.remove();
    document.querySelectorAll("details.popover[open]").forEach((details) => {
      if (!details.contains(event.target)) details.open = false;
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.popover[open]").forEach((details) => {
      details.open = false;
      details.querySelector("summary").focus();
    });
  });

  // --- keyboard: / filter, j k rows, x select, o open, g i / g h / g t go, ? the list -----------
  // Never while the user types in a field, and never with a modifier (the browser's own keys).
  const keysDialog = document.getElementById("keys-dialog");
  let pendingG = 0;
  let cursor = -1;

  function typing(target) {
    return target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName);
  }

  function rows() {
    return Array.from(document.querySelectorAll("[data-live-list] tbody tr[data-instance]"));
  }

  function moveCursor(step) {
    const all = rows();
    if (!all.length) return;
    const current = all.findIndex((row) => row.classList.contains("is-cursor"));
    cursor = Math.min(all.length - 1, Math.max(0, (current < 0 ? (step > 0 ? -1 : all.length) : current) + step));
    all.forEach((row, i) => {
      row.classList.toggle("is-cursor", i === cursor);
      if (i === cursor) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    all[cursor].scrollIntoView({ block: "nearest" });
  }

  function cursorRow() {
    return document.querySelector("[data-live-list] tbody tr.is-cursor");
  }

  const GO = { i: "nav-instances", h: "nav-hosts", t: "nav-tasks" };

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    if (keysDialog && keysDialog.open) return;
    const key = event.key;
    if (pendingG && Date.now() - pendingG < 1500 && GO[key]) {
      pendingG = 0;
      const link = document.querySelector(`[data-key="${GO[key]}"]`);
      if (link) {
        event.preventDefault();
        window.location.assign(link.href);
      }
      return;
    }
    pendingG = 0;
    if (key === "g") {
      pendingG = Date.now();
    } else if (key === "/") {
      const filter = document.querySelector("[data-key-filter]");
      if (filter) {
        event.preventDefault();
        filter.focus();
        filter.select();
      }
    } else if (key === "j" || key === "k") {
      event.preventDefault();
      moveCursor(key === "j" ? 1 : -1);
    } else if (key === "x") {
      const box = cursorRow() && cursorRow().querySelector("input[type=checkbox][name=instance]");
      if (box && !box.disabled) {
        box.click();
      }
    } else if (key === "o" || key === "Enter") {
      const link = cursorRow() && cursorRow().querySelector("a[href]");
      if (link) {
        event.preventDefault();
        window.location.assign(link.href);
      }
    } else if (key === "?" && keysDialog && typeof keysDialog.showModal === "function") {
      event.preventDefault();
      keysDialog.showModal();
    }
  });

  // --- the state-machine page: a precondition row highlights its arrows ---------------------
  const diagram = document.querySelector("[data-diagram]");
  if (diagram) {
    const focus = (key) => {
      diagram.classList.toggle("focus", !!key);
      diagram.querySelectorAll("[data-actions]").forEach((el) => {
        el.classList.toggle("hit", !!key && el.dataset.actions.split(" ").includes(key));
      });
    };
    document.querySelectorAll("[data-highlight]").forEach((row) => {
      row.addEventListener("mouseenter", () => focus(row.dataset.highlight));
      row.addEventListener("focus", () => focus(row.dataset.highlight));
      row.addEventListener("mouseleave", () => focus(null));
      row.addEventListener("blur", () => focus(null));
    });
  }

  // --- the schedule form's time zone: the browser's own, unless the user typed one ----------
  document.querySelectorAll("input[data-browser-zone]").forEach((input) => {
    try {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && input.value === "UTC") input.value = zone;
    } catch (_) {
      /* an old browser: UTC stays */
    }
  });
})();
