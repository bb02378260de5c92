/* vmdash page behaviour — plain JS, no library. Everything here is a convenience: without
 * scripts, destructive actions get a confirmation page from the server and the project
 * switcher has a button. */
(() => {
  "use strict";

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
        window.alert("Select at least one instance first.");
        return;
      }
      if (option && option.dataset.destructive === "1") {
        event.preventDefault();
        confirmThen(
          `${option.textContent} ${count} instance${count === 1 ? "" : "s"}? ${option.dataset.summary || ""}`,
          `${option.textContent}?`,
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
      confirmThen(question, "Are you sure?", () => submitConfirmed(form, submitter));
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
})();
