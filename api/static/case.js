// The case screen, keyboard first.
//   Tab / Shift+Tab  move between fields (the browser's own order: flagged fields first)
//   typing           replaces the value (a focused field's text is selected)
//   Enter            accepts the field and jumps to the next flagged field
//   Esc              restores the machine value
//   Ctrl+Enter       submits the case
//   PageUp/PageDown  previous / next page;  Alt+Plus / Alt+Minus zoom
// The focused field's source box is drawn on the scan, which scrolls and
// zooms to it. Corrections are checked at once by the server's validators.
(function () {
  "use strict";
  const root = document.querySelector(".fw-case");
  if (!root) return;
  const caseId = root.dataset.case;
  const editable = root.dataset.editable === "1";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const boxes = JSON.parse(document.getElementById("boxes").textContent || "{}");
  const viewer = document.getElementById("viewer");
  const pages = Array.from(document.querySelectorAll(".fw-page"));
  const form = document.getElementById("case-form");
  const inputs = Array.from(form.querySelectorAll(".fw-input"));
  const base = "/cases/" + encodeURIComponent(caseId);
  let current = 1;
  let zoom = 1;

  function showPage(n) {
    n = Math.max(1, Math.min(pages.length, n));
    current = n;
    pages.forEach((p) => { p.hidden = Number(p.dataset.page) !== n; });
    const label = document.getElementById("page-label");
    if (label) label.textContent = label.textContent.replace(/\d+(?=\D+\d+\s*$)/, String(n));
  }

  function setZoom(z) {
    zoom = Math.max(0.5, Math.min(4, z));
    pages.forEach((p) => { p.style.width = (zoom * 100) + "%"; });
  }

  function focusBox(name) {
    document.querySelectorAll(".fw-box--active").forEach((b) => b.classList.remove("fw-box--active"));
    const box = boxes[name];
    if (!box) return;
    showPage(box.page);
    const page = pages[box.page - 1];
    const el = page.querySelector('[data-box="' + CSS.escape(name) + '"]');
    if (!el) return;
    el.classList.add("fw-box--active");
    // zoom so the value's box takes about half the viewer's width, but keep at
    // least a third of the page in view (a tick box alone says nothing), then centre it
    const pw = Number(page.dataset.width);
    const boxShare = (box.x1 - box.x0) / pw;
    const wanted = Math.max(1, Math.min(3, 0.5 / Math.max(boxShare, 0.3)));
    if (Math.abs(wanted - zoom) > 0.05) setZoom(wanted);
    const scale = page.clientWidth / pw;
    const cx = ((box.x0 + box.x1) / 2) * scale;
    const cy = ((box.y0 + box.y1) / 2) * scale;
    viewer.scrollTo({ left: cx - viewer.clientWidth / 2, top: cy - viewer.clientHeight / 2, behavior: "auto" });
  }

  function fieldInputs(name) { return inputs.filter((i) => i.dataset.field === name); }
  function isFlagged(i) { return i.dataset.flagged === "1"; }
  function valueOf(name) {
    const group = fieldInputs(name);
    if (group[0] && group[0].type === "radio") {
      const c = group.find((i) => i.checked);
      return c ? c.value : "";
    }
    return group[0] ? group[0].value : "";
  }

  function restore(input) {
    if (input.type === "radio") {
      fieldInputs(input.dataset.field).forEach((r) => { r.checked = r.value === r.dataset.machine; });
    } else {
      input.value = input.dataset.machine;
      input.select();
    }
    markChanged(input.dataset.field);
    validate(input.dataset.field);
  }

  function markChanged(name) {
    const wrap = form.querySelector('[data-field-box="' + CSS.escape(name) + '"]');
    if (!wrap) return;
    const changed = fieldInputs(name).some((i) => i.type === "radio"
      ? (i.checked && i.value !== i.dataset.machine) : i.value !== i.dataset.machine);
    wrap.classList.toggle("fw-field--changed", changed);
  }

  const pending = new Map();
  async function validate(name) {
    const group = fieldInputs(name);
    if (!group.length || group[0].dataset.cell) return true;
    const msg = document.getElementById("v-" + name);
    const value = valueOf(name);
    const req = fetch(base + "/validate", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: JSON.stringify({ field: name, value: value }),
    }).then((r) => r.json()).then((res) => {
      if (valueOf(name) !== value) return true;  // typed on meanwhile: a newer check follows
      if (msg) msg.textContent = res.ok ? "" : res.message;
      group.forEach((i) => i.setAttribute("aria-invalid", res.ok ? "false" : "true"));
      const wrap = form.querySelector('[data-field-box="' + CSS.escape(name) + '"]');
      if (wrap) wrap.classList.toggle("fw-field--invalid", !res.ok);
      return res.ok;
    }).catch(() => true);
    pending.set(name, req);
    return req;
  }

  function nextFlagged(from) {
    const flagged = inputs.filter((i) => isFlagged(i) && !(i.type === "radio" && !i.checked && fieldInputs(i.dataset.field).some((r) => r.checked)));
    const names = [];
    flagged.forEach((i) => { if (!names.includes(i.dataset.field)) names.push(i.dataset.field); });
    const idx = names.indexOf(from);
    for (let k = idx + 1; k < names.length; k++) {
      const wrap = form.querySelector('[data-field-box="' + CSS.escape(names[k]) + '"]');
      if (wrap && !wrap.classList.contains("fw-field--accepted")) return names[k];
    }
    return null;
  }

  function focusField(name) {
    const group = fieldInputs(name);
    const target = group.find((i) => i.type === "radio" ? i.checked : true) || group[0];
    if (target) target.focus();
  }

  async function submitCase() {
    const approve = document.getElementById("approve");
    if (!approve || approve.disabled) return;
    const changed = [...new Set(inputs.filter((i) => !i.dataset.cell).map((i) => i.dataset.field))]
      .filter((n) => valueOf(n) !== (fieldInputs(n)[0] || {}).dataset.machine);
    const results = await Promise.all(changed.map((n) => validate(n)));
    if (results.some((ok) => ok === false)) {
      const bad = form.querySelector(".fw-field--invalid .fw-input");
      if (bad) bad.focus();
      return;
    }
    approve.disabled = true;  // a double submit sends one decision (and the id makes it apply once)
    form.submit();
  }

  inputs.forEach((input) => {
    input.addEventListener("focus", () => {
      focusBox(input.dataset.field);
      if (input.type === "text" && !input.readOnly) input.select();
    });
    input.addEventListener("input", () => {
      markChanged(input.dataset.field);
      clearTimeout(input._t);
      input._t = setTimeout(() => validate(input.dataset.field), 250);
    });
    input.addEventListener("change", () => { markChanged(input.dataset.field); validate(input.dataset.field); });
  });

  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const inField = t && t.classList && t.classList.contains("fw-input");
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      submitCase();
      return;
    }
    if (ev.key === "Enter" && inField && !ev.shiftKey && !ev.altKey) {
      ev.preventDefault();
      const name = t.dataset.field;
      const wrap = form.querySelector('[data-field-box="' + CSS.escape(name) + '"]');
      if (wrap) wrap.classList.add("fw-field--accepted");
      validate(name);
      const next = nextFlagged(name);
      if (next) focusField(next);
      else { const a = document.getElementById("approve"); if (a) a.focus(); }
      return;
    }
    if (inField && t.type === "radio" && ev.key.length === 1 && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
      // typing picks the option whose label starts with the letter (again: the next such option)
      const group = fieldInputs(t.dataset.field);
      const key = ev.key.toLocaleLowerCase();
      const label = (r) => (r.labels && r.labels[0] ? r.labels[0].textContent.trim().toLocaleLowerCase() : "");
      const start = group.indexOf(group.find((r) => r.checked) || t);
      for (let k = 1; k <= group.length; k++) {
        const r = group[(start + k) % group.length];
        if (label(r).startsWith(key)) {
          ev.preventDefault();
          r.checked = true;
          r.focus();
          markChanged(r.dataset.field);
          break;
        }
      }
      return;
    }
    if (ev.key === "Escape" && inField) {
      ev.preventDefault();
      restore(t);
      return;
    }
    if (ev.key === "PageDown") { ev.preventDefault(); showPage(current + 1); return; }
    if (ev.key === "PageUp") { ev.preventDefault(); showPage(current - 1); return; }
    if (ev.altKey && (ev.key === "+" || ev.key === "=")) { ev.preventDefault(); setZoom(zoom * 1.25); return; }
    if (ev.altKey && ev.key === "-") { ev.preventDefault(); setZoom(zoom / 1.25); return; }
  });

  document.getElementById("next-page").addEventListener("click", () => showPage(current + 1));
  document.getElementById("prev-page").addEventListener("click", () => showPage(current - 1));
  document.getElementById("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
  document.getElementById("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));

  // keep the claim while the clerk works: extend after activity, never when idle
  if (editable) {
    let active = false;
    ["keydown", "mousemove", "click"].forEach((e) => document.addEventListener(e, () => { active = true; }, { passive: true }));
    const every = Number(root.dataset.extendEvery || 60) * 1000;
    setInterval(() => {
      if (!active) return;
      active = false;
      fetch(base + "/extend", { method: "POST", headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } });
    }, every);
  }

  // ready: the first flagged field has focus, its text selected, its box shown
  const first = inputs.find((i) => isFlagged(i) && !i.readOnly && !i.disabled);
  if (editable && first) focusField(first.dataset.field);
  else if (editable) { const a = document.getElementById("approve"); if (a) a.focus(); }
  root.dataset.ready = "1";
  window.formwerkReady = performance.now();
})();
