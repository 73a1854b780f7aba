// Topup portal: small progressive enhancements. Every page works without this file; with it, the top-up
// form checks the number and amount as the visitor types (the server's own checks, as an HTML fragment),
// a payment button cannot be pressed twice, card fields are shown only for a card, forms that must be posted
// on to a payment provider go by themselves, and a form's problems get the focus.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function liveCheck(form) {
    var target = document.getElementById("check");
    var url = form.getAttribute("data-check");
    if (!target || !url) { return; }
    var timer = null, last = "", controller = null;
    function amountTyped() {
      var chosen = form.querySelector('input[name="amount"]:checked');
      var own = form.querySelector("#amount_other");
      if (own && own.value.trim()) { return own.value.trim(); }
      if (chosen && !chosen.hasAttribute("data-other")) { return (parseInt(chosen.value, 10) / 100).toFixed(2); }
      return "";
    }
    function run() {
      var number = form.querySelector("#number").value.trim();
      var operator = form.querySelector("#operator").value;
      var query = new URLSearchParams({ number: number, operator: operator, amount: number ? amountTyped() : "" });
      var key = query.toString();
      if (key === last) { return; }
      last = key;
      if (!number) { target.innerHTML = ""; return; }
      if (controller) { controller.abort(); }
      controller = new AbortController();
      fetch(url + "?" + key, { signal: controller.signal, credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.text(); })
        .then(function (html) { target.innerHTML = html; })
        .catch(function () { /* offline or superseded: the server checks again on submit */ });
    }
    function soon() { clearTimeout(timer); timer = setTimeout(run, 250); }
    form.addEventListener("input", function (event) {
      if (event.target && event.target.id === "amount_other" && event.target.value) {
        var other = form.querySelector('input[name="amount"][data-other]');
        if (other) { other.checked = true; }
      }
      if (event.target && event.target.name === "amount" && !event.target.hasAttribute("data-other")) {
        var own = form.querySelector("#amount_other");
        if (own) { own.value = ""; }
      }
      soon();
    });
    form.addEventListener("change", soon);
    if (form.querySelector("#number").value.trim()) { run(); }
  }

  function payOnce(form) {
    // The server refuses a second payment anyway (the form's idempotency token); this saves the wait.
    form.addEventListener("submit", function () {
      var button = form.querySelector("[data-once]");
      if (button) { setTimeout(function () { button.disabled = true; }, 0); }
    });
  }

  function cardFields(form) {
    var fields = form.querySelector("[data-card-fields]");
    if (!fields) { return; }
    function sync() {
      var chosen = form.querySelector('input[name="method"]:checked');
      fields.hidden = !(chosen && chosen.value === "card");
    }
    form.addEventListener("change", sync);
    sync();
    var number = form.querySelector("[data-card-number]");
    if (number) {
      number.addEventListener("input", function () {
        var digits = number.value.replace(/\D/g, "").slice(0, 19);
        var grouped = digits.replace(/(.{4})(?=.)/g, "$1 ");
        if (grouped !== number.value) { number.value = grouped; }
      });
    }
    var expiry = form.querySelector("[data-card-expiry]");
    if (expiry) {
      expiry.addEventListener("input", function (event) {
        if (event.inputType && event.inputType.indexOf("delete") === 0) { return; }
        var digits = expiry.value.replace(/\D/g, "").slice(0, 4);
        expiry.value = digits.length > 2 ? digits.slice(0, 2) + "/" + digits.slice(2) : digits;
      });
    }
  }

  ready(function () {
    document.querySelectorAll("form[data-check]").forEach(liveCheck);
    document.querySelectorAll("form").forEach(payOnce);
    document.querySelectorAll("form[data-pay]").forEach(cardFields);
    var auto = document.querySelector("form[data-autosubmit]");
    if (auto) { auto.submit(); }
    var problems = document.querySelector("[data-focus]");
    if (problems) { problems.focus(); }
  });
})();
