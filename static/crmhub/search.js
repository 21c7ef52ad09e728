// The contact search box (form[data-live-search]): search as you type without losing a click
// or an Enter, and one browser history entry per finished search. No inline code (CSP).
//
// - A search runs only when what it asks changed: a blur (the "change" of the box, which
//   pressing the mouse on a result causes) never replaces the results under the pointer.
//   One search is on its way at a time (hx-sync "queue last": the newest waits, none is
//   aborted); a focused result keeps the focus when newer results arrive (its id names
//   the person, and htmx focuses the element of the same id after a swap).
// - Enter in the box opens the first result of what is typed, once that search has arrived
//   (at once when its results are already shown).
// - The first search typed pushes a history entry; the searches after it while typing
//   replace that entry. Once its results have been shown for SETTLE_MS without a keystroke,
//   the search is finished: the next one gets its own entry.
(function () {
  "use strict";
  var SETTLE_MS = 1000;
  var entryOpen = false;
  var settleTimer = null;

  function isLive(element) {
    return !!(element && element.matches && element.matches("form[data-live-search]"));
  }

  function liveFormOf(element) {
    return element && element.closest ? element.closest("form[data-live-search]") : null;
  }

  // What a search asks, as a comparable string (the page cursor left out).
  function keyOf(form) {
    var params = new URLSearchParams(new FormData(form));
    params.delete("after");
    params.sort();
    return params.toString();
  }

  function openFirstResult() {
    var link = document.querySelector("#contact-results tbody tr:not(#load-more) a[href]");
    if (link) { window.location.assign(link.href); }
  }

  function settleLater() {
    clearTimeout(settleTimer);
    settleTimer = setTimeout(function () { entryOpen = false; }, SETTLE_MS);
  }

  // The results shown with the page are those of the form as it was served.
  // form.dataset.asked: the last search asked for (sent, or queued behind the one in
  // flight); form.dataset.shown: the search whose results are on the page.
  document.addEventListener("htmx:load", function (event) {
    var root = event.target;
    var forms = isLive(root) ? [root] : (root.querySelectorAll ? root.querySelectorAll("form[data-live-search]") : []);
    Array.prototype.forEach.call(forms, function (form) {
      if (form.dataset.asked === undefined) { form.dataset.asked = form.dataset.shown = keyOf(form); }
    });
  });

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    if (!isLive(form)) { return; }
    var trigger = event.detail.triggeringEvent;
    if (trigger && trigger.crmhubAsked) { return; }  // asked before, queued, going out now
    var blurred = trigger && trigger.type === "change" && trigger.target && trigger.target.name === "q";
    var key = keyOf(form);
    if (blurred || key === form.dataset.asked) {
      event.preventDefault();  // nothing new to ask: the results stay as they are
      return;
    }
    form.dataset.asked = key;
    if (trigger) { trigger.crmhubAsked = true; }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (isLive(event.detail.elt) && event.detail.xhr) {
      event.detail.xhr.crmhubSearch = keyOf(event.detail.elt);
    }
  });

  document.addEventListener("htmx:beforeHistoryUpdate", function (event) {
    var config = event.detail.requestConfig;
    if (!config || !isLive(config.elt) || !event.detail.history) { return; }
    event.detail.history.type = entryOpen ? "replace" : "push";
    entryOpen = true;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var config = event.detail.requestConfig;
    if (!config || !isLive(config.elt)) { return; }
    var form = config.elt;
    var key = event.detail.xhr ? event.detail.xhr.crmhubSearch : undefined;
    if (key === undefined) { return; }  // "Load more": not a new search
    form.dataset.shown = key;
    settleLater();
    if (form.dataset.openFirst !== undefined && form.dataset.openFirst === key) {
      delete form.dataset.openFirst;
      openFirstResult();
    }
  });

  function forget(event) {
    var form = event.detail && event.detail.elt;
    if (!isLive(form)) { return; }
    form.dataset.asked = "";  // it failed: the same search may be asked again
    delete form.dataset.openFirst;
  }
  document.addEventListener("htmx:responseError", forget);
  document.addEventListener("htmx:sendError", forget);

  document.addEventListener("input", function (event) {
    var form = liveFormOf(event.target);
    if (!form) { return; }
    clearTimeout(settleTimer);  // still typing: this search is not finished
    if (form.dataset.openFirst !== undefined && form.dataset.openFirst !== keyOf(form)) {
      delete form.dataset.openFirst;  // typed on after Enter: open nothing
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || event.altKey || event.ctrlKey ||
        event.metaKey || event.shiftKey) { return; }
    var box = event.target;
    var form = liveFormOf(box);
    if (!form || box.name !== "q" || !window.htmx) { return; }
    event.preventDefault();
    var key = keyOf(form);
    if (key === form.dataset.shown && key === form.dataset.asked) {
      openFirstResult();  // the results of what is typed are on the page
      return;
    }
    form.dataset.openFirst = key;
    if (key !== form.dataset.asked) {
      window.htmx.trigger(form, "submit");  // at once, without the pause
    }  // else: that search is on its way; its first result opens when it arrives
  });

  window.addEventListener("popstate", function () {
    clearTimeout(settleTimer);
    entryOpen = false;
  });
})();
