// Guichet's front-end glue, loaded with `defer` (no inline script anywhere, strict CSP).
"use strict";

// The small-screen menu folds behind its button (without scripts, noscript.css keeps
// it open).
document.addEventListener("click", (event) => {
  const toggle = event.target.closest(".menu-toggle");
  if (toggle) {
    const menu = document.getElementById(toggle.getAttribute("aria-controls"));
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  }
  // A header dropdown closes when a click lands elsewhere, or another one opens.
  const inside = event.target.closest("details.dropdown");
  for (const open of document.querySelectorAll("details.dropdown[open]")) {
    if (open !== inside) open.removeAttribute("open");
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = document.querySelector("details.dropdown[open]");
  if (open) {
    open.removeAttribute("open");
    open.querySelector("summary").focus();
  }
});

// --- Dashboard -----------------------------------------------------------------

function widgetOrder(grid) {
  return [...grid.querySelectorAll(":scope > .widget")].map((card) => card.dataset.widget);
}

function saveOrder(grid) {
  htmx.ajax("POST", grid.dataset.orderUrl, {
    source: grid,
    swap: "none",
    values: { widget: widgetOrder(grid) },
  });
}

// Drag and drop with SortableJS; the order is saved as soon as a widget is dropped.
function initSortable(root) {
  for (const grid of root.querySelectorAll("[data-sortable]")) {
    if (grid.sortable || !window.Sortable) continue;
    grid.sortable = Sortable.create(grid, {
      handle: ".widget > header",
      draggable: ".widget",
      animation: 150,
      onEnd: (event) => {
        if (event.oldIndex !== event.newIndex) saveOrder(grid);
      },
    });
  }
}

// Keyboard re-ordering: the server saved the move; move the card too, keep the focus.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (!event.detail.successful || !form.matches("form[data-move]")) return;
  const card = form.closest(".widget");
  const button = form.querySelector("button");
  if (form.dataset.move === "earlier" && card.previousElementSibling) {
    card.parentElement.insertBefore(card, card.previousElementSibling);
  } else if (form.dataset.move === "later" && card.nextElementSibling) {
    card.parentElement.insertBefore(card.nextElementSibling, card);
  }
  button.focus();
});

// A widget that fails to load: gone when its app was disabled (404), else unavailable.
function widgetFailed(event) {
  const body = event.detail.elt;
  if (!body.classList || !body.classList.contains("widget-body")) return;
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (status === 404) {
    body.closest(".widget").remove();
    return;
  }
  const message = document.createElement("div");
  message.className = "widget-unavailable";
  message.setAttribute("role", "alert");
  const text = document.createElement("p");
  text.textContent = document.documentElement.lang === "fr"
    ? "Ce widget est indisponible pour le moment."
    : "This widget is unavailable for now.";
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "secondary outline";
  retry.textContent = document.documentElement.lang === "fr" ? "Réessayer" : "Retry";
  retry.setAttribute("hx-get", body.getAttribute("hx-get"));
  retry.setAttribute("hx-target", "closest .widget-body");
  message.append(text, retry);
  body.replaceChildren(message);
  body.removeAttribute("aria-busy");
  htmx.process(message);
}
document.addEventListener("htmx:responseError", widgetFailed);

// A page reached by a boosted link or form that answers an error (an app switched off
// meanwhile, an object gone) is shown like any page: its message, not a silent click.
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.boosted && event.detail.xhr.status >= 400) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
document.addEventListener("htmx:timeout", widgetFailed);
document.addEventListener("htmx:sendError", widgetFailed);
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target.classList.contains("widget-body")) {
    event.detail.target.removeAttribute("aria-busy");
  }
});

// --- Global search: arrows move through the results, Escape closes them -----------

document.addEventListener("keydown", (event) => {
  const input = document.getElementById("global-search");
  const box = document.getElementById("search-results");
  if (!input || !box) return;
  const links = [...box.querySelectorAll("a")];
  const index = links.indexOf(document.activeElement);
  if (event.key === "Escape" && (document.activeElement === input || index >= 0)) {
    box.replaceChildren();
    input.focus();
  } else if (event.key === "ArrowDown" && (document.activeElement === input || index >= 0)) {
    event.preventDefault();
    links[Math.min(index + 1, links.length - 1)]?.focus();
  } else if (event.key === "ArrowUp" && index >= 0) {
    event.preventDefault();
    (index === 0 ? input : links[index - 1]).focus();
  }
});

// --- Lists: actions on the selection wait for a row to be ticked -------------------

function syncSelection(root) {
  for (const form of root.querySelectorAll("form:has([data-needs-selection])")) {
    const ticked = form.querySelector("input[type=checkbox][name=id]:checked") !== null;
    for (const button of form.querySelectorAll("[data-needs-selection]")) button.disabled = !ticked;
  }
}
document.addEventListener("change", (event) => {
  if (event.target.matches("input[type=checkbox][name=id]")) syncSelection(document);
});

// --- A long download (a ZIP of many PDFs) says it is being prepared until the file
// arrives: the server answers it with a cookie named after the link's token. ------

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-progress]");
  if (!link) return;
  const token = Math.random().toString(36).slice(2);
  const url = new URL(link.href);
  url.searchParams.set("download_token", token);
  link.href = url.toString();
  let status = link.parentElement.querySelector(".download-status");
  if (!status) {
    status = document.createElement("p");
    status.className = "download-status muted";
    status.setAttribute("role", "status");
    link.after(status);
  }
  status.textContent = link.dataset.progress;
  const started = Date.now();
  const timer = setInterval(() => {
    if (document.cookie.includes(`guichet_download=${token}`) || Date.now() - started > 600000) {
      clearInterval(timer);
      status.textContent = link.dataset.done || "";
    }
  }, 500);
});

function initPage(root) {
  initSortable(root);
  syncSelection(root);
}
document.addEventListener("DOMContentLoaded", () => initPage(document));
document.addEventListener("htmx:load", (event) => initPage(event.detail.elt));

// --- Security keys and passkeys (WebAuthn) ----------------------------------------
// A form with data-webauthn="add" or "login" asks the browser for a credential with the
// options its data-options URL gives, then posts it as JSON to its action; the answer
// says where to go next, or what went wrong (shown in its data-webauthn-status).

async function postJSON(url, csrf, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-webauthn]");
  if (!form) return;
  event.preventDefault();
  const status = form.querySelector("[data-webauthn-status]");
  status.textContent = "";
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseCreationOptionsFromJSON) {
    status.textContent = form.dataset.unsupported;
    return;
  }
  const csrf = form.dataset.csrf;
  try {
    const options = await postJSON(form.dataset.options, csrf);
    let credential;
    if (form.dataset.webauthn === "add") {
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
      credential = await navigator.credentials.create({ publicKey });
    } else {
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
      credential = await navigator.credentials.get({ publicKey });
    }
    const name = form.elements.name ? form.elements.name.value : "";
    const done = await postJSON(form.action, csrf, { credential: credential.toJSON(), name });
    window.location.assign(done.next);
  } catch (error) {
    status.textContent = error.message;
  }
});
