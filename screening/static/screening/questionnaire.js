/* Progressive enhancement of the questionnaire form (the form works without this file).
 * One item per screen with Back/Next and "Question 4 of 9"; answers, position and the attempt's
 * Idempotency-Key are kept in localStorage, so a dropped connection or a closed tab resumes where
 * it stopped and the submission is resent with the same key (the server stores it once). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function storage() {
    try {
      var probe = "__screening__";
      window.localStorage.setItem(probe, probe);
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (e) {
      return null;
    }
  }
  var store = storage();

  function load(name) {
    if (!store) return null;
    try {
      return JSON.parse(store.getItem(name) || "null");
    } catch (e) {
      return null;
    }
  }
  function save(name, value) {
    if (store) store.setItem(name, JSON.stringify(value));
  }

  function start() {
    var cleared = document.querySelector("[data-clear-answers]");
    if (cleared && store) store.removeItem("screening:" + cleared.getAttribute("data-clear-answers"));

    var form = document.querySelector("form[data-questionnaire]");
    if (!form) return;
    var name = "screening:" + form.getAttribute("data-questionnaire");
    var keyInput = form.querySelector("input[name=idempotency_key]");
    var items = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-item]"));
    var progress = form.querySelector("[data-progress-text]");
    var status = form.querySelector("[data-status]");
    var nav = form.querySelector("[data-nav]");
    var back = form.querySelector("[data-back]");
    var next = form.querySelector("[data-next]");
    var send = form.querySelector("[data-send]");
    var state = load(name) || {};
    if (!state.key) state.key = keyInput.value;
    keyInput.value = state.key;
    state.answers = state.answers || {};
    state.position = Math.min(Math.max(state.position || 0, 0), items.length - 1);
    var sending = false;

    // Restore what the device kept; what the server re-rendered (after an error) wins.
    items.forEach(function (item) {
      var code = item.getAttribute("data-item");
      if (item.querySelector("input:checked")) return;
      var kept = state.answers[code];
      if (kept === undefined) return;
      var radio = item.querySelector('input[value="' + String(kept).replace(/"/g, "") + '"]');
      if (radio) radio.checked = true;
    });
    var firstError = form.querySelector("fieldset.has-error");
    if (firstError) state.position = items.indexOf(firstError);

    function answered(item) {
      return !!item.querySelector("input:checked");
    }
    function required(item) {
      return item.getAttribute("data-required") === "1";
    }
    function say(text) {
      status.textContent = text || "";
    }
    function show(position, moveFocus) {
      state.position = position;
      save(name, state);
      items.forEach(function (item, index) {
        item.hidden = index !== position;
      });
      var last = position === items.length - 1;
      back.hidden = position === 0;
      next.hidden = last;
      send.hidden = !last;
      progress.hidden = false;
      progress.textContent = form
        .getAttribute("data-progress")
        .replace("%(current)s", position + 1)
        .replace("%(total)s", items.length);
      if (moveFocus) {
        var legend = items[position].querySelector("legend");
        legend.setAttribute("tabindex", "-1");
        legend.focus();
      }
    }

    nav.hidden = false;
    form.addEventListener("change", function (event) {
      var item = event.target.closest("fieldset[data-item]");
      if (!item) return;
      state.answers[item.getAttribute("data-item")] = event.target.value;
      save(name, state);
      say("");
    });
    back.addEventListener("click", function () {
      say("");
      if (state.position > 0) show(state.position - 1, true);
    });
    next.addEventListener("click", function () {
      var item = items[state.position];
      if (required(item) && !answered(item)) {
        say(form.getAttribute("data-required"));
        var first = item.querySelector("input");
        if (first) first.focus();
        return;
      }
      say("");
      show(state.position + 1, true);
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (sending) return;
      var missing = items.filter(function (item) {
        return required(item) && !answered(item);
      });
      if (missing.length) {
        show(items.indexOf(missing[0]), true);
        say(form.getAttribute("data-invalid"));
        return;
      }
      sending = true;
      send.disabled = true;
      say(form.getAttribute("data-sending"));
      window
        .fetch(window.location.pathname, {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
          headers: { "Idempotency-Key": state.key, Accept: "application/json" },
        })
        .then(function (response) {
          return response.json().then(function (data) {
            return { ok: response.ok, code: response.status, data: data };
          });
        })
        .then(function (result) {
          if (result.ok && result.data.redirect) {
            if (store) store.removeItem(name);
            window.location.assign(result.data.redirect);
            return;
          }
          if (result.code === 409) {
            if (store) store.removeItem(name);
            window.location.reload();
            return;
          }
          var wrong = (result.data && result.data.items) || [];
          var index = items.findIndex(function (item) {
            return wrong.indexOf(item.getAttribute("data-item")) >= 0;
          });
          if (index >= 0) show(index, true);
          say(form.getAttribute(result.code === 400 ? "data-invalid" : "data-failed"));
        })
        .catch(function () {
          say(form.getAttribute(navigator.onLine === false ? "data-offline" : "data-failed"));
        })
        .then(function () {
          sending = false;
          send.disabled = false;
        });
    });

    show(state.position, false);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
