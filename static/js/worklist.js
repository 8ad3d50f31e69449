/* The worklist of every workflow, and the item page: keyboard shortcuts, row selection, and flash messages for
   refused or stale htmx actions. Loaded with <script src defer>; no inline script anywhere.

   Worklist: j / k move the selection, Enter opens it, c claims, r releases, x selects it for a
   bulk action, / goes to the filters.
   Item page: c claims, r releases, n writes a note, u goes back to the worklist.
   Everywhere: ? shows or hides the shortcuts, Esc closes them. Keys do nothing while typing. */
(function () {
  "use strict";

  // Chromium marks some inputs with an empty style attribute (autofill); htmx would copy it onto
  // the swapped-in input while settling ("style" is in its attributesToSettle), and the strict
  // CSP (no inline styles) reports that as a violation. Settling the other attributes is enough.
  if (window.htmx) window.htmx.config.attributesToSettle = ["class", "width", "height"];

  var SELECTED = "is-selected";
  var selectedId = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#worklist-table tbody tr[data-item]"));
  }

  function currentRow() {
    return selectedId ? document.getElementById("row-" + selectedId) : null;
  }

  function select(row) {
    rows().forEach(function (r) {
      r.classList.remove(SELECTED);
      r.removeAttribute("aria-selected");
    });
    if (!row) {
      selectedId = null;
      return;
    }
    selectedId = row.getAttribute("data-item");
    row.classList.add(SELECTED);
    row.setAttribute("aria-selected", "true");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = index === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(Math.max(index + step, 0), all.length - 1);
    select(all[next]);
  }

  function press(scope, selector) {
    var button = scope && scope.querySelector(selector);
    if (!button || button.disabled) return;
    // A row swapped in a moment ago is bound by htmx only when it settles: bind it now (htmx
    // skips what it has already bound), so a quick key press never falls back to a full POST.
    if (window.htmx && button.form) window.htmx.process(button.form);
    button.click();
  }

  function typing(target) {
    return target && target.closest && target.closest("input, select, textarea, [contenteditable]");
  }

  function toggleHelp(open) {
    var help = document.getElementById("shortcuts");
    if (!help) return;
    help.open = open === undefined ? !help.open : open;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      toggleHelp(false);
      return;
    }
    if (typing(event.target)) return;
    var item = document.getElementById("referral");
    switch (event.key) {
      case "j":
        move(1);
        break;
      case "k":
        move(-1);
        break;
      case "Enter": {
        var row = currentRow();
        // A focused link or button handles Enter itself; the row (or nothing, after a swap) is ours.
        if (!row || (event.target !== row && event.target !== document.body)) return;
        var link = row.querySelector("a.row-link");
        if (link) window.location.assign(link.href);
        break;
      }
      case "x": {
        var box = currentRow() && currentRow().querySelector("[data-bulk-id]");
        if (!box) return;
        box.checked = !box.checked;
        break;
      }
      case "c":
        press(currentRow() || item, "[data-action=claim]");
        break;
      case "r":
        press(currentRow() || item, "[data-action=release]");
        break;
      case "/": {
        var first = document.querySelector("#filters select, #filters input");
        if (!first) return;
        first.focus();
        break;
      }
      case "n": {
        var note = item && item.querySelector(".note-form textarea");
        if (!note) return;
        note.focus();
        break;
      }
      case "u": {
        var back = document.querySelector("a[data-back]");
        if (!back) return;
        window.location.assign(back.href);
        break;
      }
      case "?":
        toggleHelp();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // A click in a row selects it, so the keys work from where the mouse was.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("#worklist-table tbody tr[data-item]");
    if (row) {
      selectedId = row.getAttribute("data-item");
      rows().forEach(function (r) {
        r.classList.toggle(SELECTED, r === row);
      });
    }
  });

  // Select all on this page, for the supervisors' bulk actions.
  document.addEventListener("change", function (event) {
    if (!event.target.matches("[data-select-all]")) return;
    document.querySelectorAll("[data-bulk-id]").forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  // A refused (403), stale (409) or invalid (400) action answers with a message for the flash
  // area (HX-Retarget): show it instead of leaving the old content as if nothing happened.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if ([400, 403, 409].indexOf(xhr.status) !== -1 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After a swap (a row, the results, the item), keep the selection on the same referral.
  document.addEventListener("htmx:afterSettle", function () {
    var row = currentRow();
    if (row) {
      row.classList.add(SELECTED);
      row.setAttribute("aria-selected", "true");
      // The focused row was replaced by the swap: carry the focus over, so the keys keep working.
      if (document.activeElement === document.body) row.focus({ preventScroll: true });
    }
    var flash = document.querySelector("#flash [role=alert]");
    if (flash) flash.scrollIntoView({ block: "nearest" });
  });
})();
