// Draw every <script type="application/json" data-chart="ID"> figure into the element #ID.
(function () {
  function draw() {
    document.querySelectorAll('script[type="application/json"][data-chart]').forEach(function (el) {
      var target = document.getElementById(el.dataset.chart);
      if (!target || !window.Plotly) return;
      var fig = JSON.parse(el.textContent);
      Plotly.newPlot(target, fig.data, fig.layout, {responsive: true, displaylogo: false})
        .then(function () { target.dataset.rendered = "true"; });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
