// nova_lite dashboard: the little a server-rendered page cannot do by itself.
//
// - An element with data-poll="URL" is a server row (or summary) in a state that is
//   still changing. Every second it is fetched again from URL, which answers the same
//   element freshly rendered, and put in its place; once the server has settled the
//   fresh element has no data-poll, and polling stops. A 404 means the server is gone:
//   the element is removed.
// - A form with data-confirm="QUESTION" asks before it is sent (deletes).
// No framework and no build step: this file is served as it is.
"use strict";

const POLL_MS = 1000;

function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

function poll(element) {
  window.setTimeout(async () => {
    if (!element.isConnected) return;
    let response;
    try {
      response = await fetch(element.dataset.poll, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
    } catch (_offline) {
      poll(element); // the API is unreachable for a moment: try again
      return;
    }
    if (response.redirected) {
      window.location.reload(); // signed out meanwhile: the page goes to the sign-in form
      return;
    }
    if (response.status === 404) {
      element.remove();
      return;
    }
    if (!response.ok) {
      poll(element);
      return;
    }
    const fresh = fragment(await response.text());
    if (!fresh) return;
    element.replaceWith(fresh);
    watch(fresh);
  }, POLL_MS);
}

function confirmBeforeSending(form) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

function watch(root) {
  if (root.matches("[data-poll]")) poll(root);
  root.querySelectorAll("[data-poll]").forEach(poll);
  if (root.matches("form[data-confirm]")) confirmBeforeSending(root);
  root.querySelectorAll("form[data-confirm]").forEach(confirmBeforeSending);
}

document.addEventListener("DOMContentLoaded", () => watch(document.body));
