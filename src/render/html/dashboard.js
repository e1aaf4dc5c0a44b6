"use strict";
(function () {
  // Filters: show the sections of the chosen service and env. The choice
  // lives in the URL's fragment (#service=api&env=production), so a
  // filtered view can be shared, also from a file:// URL.
  var d = document, root = d.documentElement;
  var service = d.getElementById("f-service"), env = d.getElementById("f-env");
  var sections = d.querySelectorAll("section.svc"), none = d.getElementById("none");
  function choose(select, value) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === value) { select.selectedIndex = i; return; }
    }
  }
  function apply() {
    var shown = 0;
    sections.forEach(function (s) {
      var show = (!service.value || s.dataset.service === service.value) &&
        (!env.value || s.dataset.env === env.value);
      s.hidden = !show;
      if (show) shown++;
    });
    none.hidden = shown > 0 || sections.length === 0;
    root.dataset.shown = String(shown);
  }
  function remember() {
    var q = new URLSearchParams();
    if (service.value) q.set("service", service.value);
    if (env.value) q.set("env", env.value);
    try { history.replaceState(null, "", "#" + q.toString()); } catch (e) { /* opaque origin */ }
  }
  // Whether the page is wider than the window (it never should be).
  function overflow() {
    root.dataset.overflow = root.scrollWidth > root.clientWidth ? "yes" : "no";
  }
  var q = new URLSearchParams(location.hash.slice(1));
  if (q.has("service")) choose(service, q.get("service"));
  if (q.has("env")) choose(env, q.get("env"));
  [service, env].forEach(function (s) {
    s.addEventListener("change", function () { apply(); remember(); overflow(); });
  });
  addEventListener("resize", overflow);
  apply();
  overflow();
})();
