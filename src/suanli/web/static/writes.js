// Forms that call a token-protected write endpoint: <form data-api="/api/..." data-method="POST" [data-json]>.
// The token field is sent as "Authorization: Bearer ..." (never in the body) and kept for this tab only
// (sessionStorage); blank fields are left out; the answer (or the error envelope) is shown in the form's <output>.
(function () {
  var KEY = "suanli-api-token";
  function show(out, ok, text) {
    if (!out) return;
    out.textContent = text;
    out.className = ok ? "note" : "error";
    out.hidden = false;
  }
  function setup(form) {
    var token = form.querySelector('input[name="token"]');
    if (token && !token.value) token.value = sessionStorage.getItem(KEY) || "";
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var out = form.querySelector("output");
      var headers = {};
      if (token && token.value) {
        sessionStorage.setItem(KEY, token.value);
        headers["Authorization"] = "Bearer " + token.value;
      }
      var data = new FormData(form), body;
      data.delete("token");
      Array.from(data.keys()).forEach(function (k) {
        var v = data.get(k);
        if (typeof v === "string" && !v.trim()) data.delete(k);
      });
      if (form.hasAttribute("data-json")) {
        var obj = {};
        data.forEach(function (v, k) { obj[k] = v; });
        body = JSON.stringify(obj);
        headers["Content-Type"] = "application/json";
      } else {
        body = data;
      }
      var method = form.dataset.method || "POST";
      fetch(form.dataset.api, {method: method, headers: headers, body: method === "DELETE" ? undefined : body})
        .then(function (r) { return r.json().then(function (j) { return [r.ok, r.status, j]; }); })
        .then(function (res) {
          var ok = res[0], j = res[2];
          if (ok) {
            show(out, true, form.dataset.done ? form.dataset.done + " " + JSON.stringify(j) : JSON.stringify(j));
            if (form.dataset.next) setTimeout(function () {
              window.location.href = form.dataset.next.replace("{name}", encodeURIComponent(j.name || ""));
            }, 600);
          } else {
            var e = j.error || {};
            var extra = (e.details && e.details.problems) ? "\n" + e.details.problems.slice(0, 10).join("\n") : "";
            show(out, false, res[1] + " " + (e.message || "error") + (e.details && e.details.field ?
              " (field: " + e.details.field + ")" : "") + extra);
          }
        })
        .catch(function (err) { show(out, false, String(err)); });
    });
  }
  function init() { document.querySelectorAll("form[data-api]").forEach(setup); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
