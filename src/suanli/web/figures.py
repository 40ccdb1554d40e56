"""Plotly figure dicts drawn from page data (presentation only: no modelling here).

Plain ``{"data": [...], "layout": {...}}`` dicts, rendered in the browser by
``Plotly.newPlot`` (SVG traces, so they also print and scale on a phone).
"""

from __future__ import annotations

from typing import Any, Sequence

from suanli.web.render import chip_name

_LAYOUT = {"template": None, "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "autosize": True,
           "legend": {"orientation": "h", "y": -0.25}, "font": {"size": 12},
           "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
_AXIS = {"gridcolor": "#ddd", "zeroline": False}
# plotly's default colourway, set explicitly so a chip's star matches its line
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def _layout(title: str, x: str, y: str, **more: Any) -> dict[str, Any]:
    return {**_LAYOUT, "title": {"text": title, "font": {"size": 14}},
            "xaxis": {**_AXIS, "title": {"text": x}}, "yaxis": {**_AXIS, "title": {"text": y}}, **more}


def frontier(data: dict[str, Any]) -> dict[str, Any]:
    """Compare page: tokens/s per GPU against tokens/s per user per chip; the pick as a star."""
    best = {c["hardware"]: c for c in data["chips"] if c.get("feasible")}
    traces: list[dict[str, Any]] = []
    for i, f in enumerate(fr for fr in data["frontiers"] if fr["points"]):
        colour = COLOURS[i % len(COLOURS)]
        name = chip_name(f.get("label"), f["hardware"]) + (" (unverified specs)" if f["unverified"] else "")
        traces.append({"type": "scatter", "mode": "lines+markers", "name": name, "legendgroup": f["hardware"],
                       "line": {"color": colour, "dash": "dot" if f["unverified"] else "solid"},
                       "marker": {"color": colour, "size": 5},
                       "x": [p["tok_s_per_user"] for p in f["points"]],
                       "y": [p["output_tok_s_per_gpu"] for p in f["points"]],
                       "text": [p["description"] for p in f["points"]],
                       "hovertemplate": "%{text}<br>%{x:.1f} tok/s/user<br>%{y:.0f} tok/s/GPU<extra>"
                                        + f["hardware"] + "</extra>"})
        c = best.get(f["hardware"])
        if c and c.get("tok_s_per_user"):
            traces.append({"type": "scatter", "mode": "markers", "showlegend": False, "legendgroup": f["hardware"],
                           "x": [c["tok_s_per_user"]], "y": [c["output_tok_s_per_gpu"]],
                           "marker": {"symbol": "star", "size": 15, "color": colour,
                                      "line": {"width": 1, "color": "#222"}},
                           "hovertemplate": f"best under targets: {c['config'].get('description', '')}<extra>"
                                            f"{f['hardware']}</extra>"})
    sla = data.get("tpot_ms")
    shapes = []
    if sla:
        shapes.append({"type": "line", "x0": 1000.0 / sla, "x1": 1000.0 / sla, "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"dash": "dot", "color": "#888"}})
    return {"data": traces, "layout": _layout(
        f"{data['model']}, {data['isl']:g} in / {data['osl']:g} out", "tokens/s per user (1 / TPOT)",
        "output tokens/s per GPU", shapes=shapes, xaxis={**_AXIS, "type": "log",
                                                         "title": {"text": "tokens/s per user (1 / TPOT)"}})}


def accuracy(cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Predicted against measured, one trace per metric family, log-log with the y = x line."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        if c["status"] == "ok":
            family = "throughput (tok/s/GPU)" if c["metric"].endswith("_tok_s") else c["metric"]
            groups.setdefault(family, []).append(c)
    traces: list[dict[str, Any]] = [{"type": "scatter", "mode": "markers", "name": name, "x": [c["measured"] for c in rows],
               "y": [c["predicted"] for c in rows],
               "text": [f"{c['case_id']}<br>{c['hardware']} · {c['model']} · {c['engine']}<br>"
                        f"error {100 * c['ape']:.0f} %" for c in rows],
               "hovertemplate": "%{text}<br>measured %{x:.3g}<br>predicted %{y:.3g}<extra></extra>"}
              for name, rows in sorted(groups.items())]
    values = [v for c in cases if c["status"] == "ok" for v in (c["measured"], c["predicted"]) if v]
    if values:
        lo, hi = min(values) / 1.5, max(values) * 1.5
        traces.append({"type": "scatter", "mode": "lines", "name": "predicted = measured", "x": [lo, hi],
                       "y": [lo, hi], "line": {"dash": "dash", "color": "#888"}, "hoverinfo": "skip"})
    lay = _layout("Predicted vs measured (public cases)", "measured", "predicted")
    lay["xaxis"]["type"] = lay["yaxis"]["type"] = "log"
    return {"data": traces, "layout": lay}


def profile_scatter(data: dict[str, Any]) -> dict[str, Any]:
    """Profile page: predicted against measured for every observation of the profile, before
    and after calibration (two traces), log-log with the y = x line."""
    pts = [p for p in data["points"] if p["measured"] and p["measured"] > 0]
    traces = []
    for key, name, colour, symbol in (("before", "before calibration", COLOURS[7], "circle-open"),
                                      ("after", "after calibration", COLOURS[0], "circle")):
        rows = [p for p in pts if p[key] and p[key] > 0]
        traces.append({"type": "scatter", "mode": "markers", "name": name, "x": [p["measured"] for p in rows],
                       "y": [p[key] for p in rows], "marker": {"color": colour, "symbol": symbol, "size": 8},
                       "text": [f"{p['ref']}<br>{p['hardware']} · {p['model']} · {p['engine']}<br>{p['metric']} "
                                f"({p['scenario']})" for p in rows],
                       "hovertemplate": "%{text}<br>measured %{x:.3g}<br>predicted %{y:.3g}<extra>" + name
                                        + "</extra>"})
    values = [v for p in pts for v in (p["measured"], p["before"], p["after"]) if v and v > 0]
    if values:
        lo, hi = min(values) / 1.5, max(values) * 1.5
        traces.append({"type": "scatter", "mode": "lines", "name": "predicted = measured", "x": [lo, hi],
                       "y": [lo, hi], "line": {"dash": "dash", "color": "#888"}, "hoverinfo": "skip"})
    lay = _layout(f"Profile {data['name']}: predicted vs measured", "measured", "predicted")
    lay["xaxis"]["type"] = lay["yaxis"]["type"] = "log"
    return {"data": traces, "layout": lay}


def errors_per_chip(by_hardware: dict[str, dict[str, Any]], labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rows = sorted(((hw, s) for hw, s in by_hardware.items() if s.get("median_ape") is not None),
                  key=lambda r: r[1]["median_ape"])
    lay = _layout("Median absolute error per chip", "median |error| (%)", "")
    lay["yaxis"] = {**lay["yaxis"], "automargin": True, "tickfont": {"size": 11}}
    return {"data": [{"type": "bar", "orientation": "h", "y": [chip_name(labels.get(hw), hw) for hw, _ in rows],
                      "x": [100 * s["median_ape"] for _, s in rows],
                      "text": [f"{s['count']} cases" for _, s in rows],
                      "hovertemplate": "%{y}: median error %{x:.0f} % (%{text})<extra></extra>"}],
            "layout": {**lay, "margin": {"l": 10, "r": 20, "t": 40, "b": 50}, "height": 120 + 28 * len(rows)}}


def dealer(plan: dict[str, Any], currency: str) -> dict[str, Any]:
    """By week: units sold (bars), units held in stock and units out on lease (right axis)."""
    weeks = list(range(len(plan["sell_per_week_mean"])))
    stock_weeks = list(range(len(plan["stock_mean"])))
    return {"data": [
        {"type": "bar", "name": "units sold per week (mean over scenarios)", "x": weeks, "y": plan["sell_per_week_mean"]},
        {"type": "scatter", "mode": "lines", "name": "units held in stock (mean)", "x": stock_weeks,
         "y": plan["stock_mean"], "yaxis": "y2"},
        {"type": "scatter", "mode": "lines", "name": "units out on lease", "x": stock_weeks,
         "y": [plan["leased_units"]] * len(stock_weeks), "yaxis": "y2", "line": {"dash": "dash"}}],
        "layout": {**_layout(f"Plan: expected NPV {plan['npv_mean'] / 1e6:,.1f} M {currency}", "week",
                             "units sold per week",
                             yaxis2={"title": {"text": "units held / on lease"}, "overlaying": "y", "side": "right",
                                     "showgrid": False, "automargin": True, "rangemode": "tozero"}),
                   "margin": {"l": 60, "r": 70, "t": 40, "b": 50}}}


def _stagger(dates: Sequence[str], *, max_levels: int = 8) -> list[int]:
    """A row per event number so that numbers of events close in time do not overlap: an event
    goes on the lowest row whose last number is far enough left (2 % of the date span, about
    a number's width on a desktop chart)."""
    from datetime import date

    def day(d: str) -> int:
        parts = [int(x) for x in d.split("-")] + [1, 1]
        return date(parts[0], parts[1], parts[2]).toordinal()

    if not dates:
        return []
    days = [day(d) for d in dates]
    gap = max(1.0, 0.02 * (max(days) - min(days)))
    last: list[float] = []
    out = []
    for d in days:
        lvl = next((k for k, x in enumerate(last) if d - x >= gap), None)
        if lvl is None:
            lvl = len(last) if len(last) < max_levels else min(range(len(last)), key=lambda k: last[k])
            if lvl == len(last):
                last.append(float(d))
        last[lvl] = float(d)
        out.append(lvl)
    return out


def price_index(series: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Market page: one line per chip (``{"name", "dates", "values"}``), events as dotted lines."""
    traces = [{"type": "scatter", "mode": "lines+markers", "name": s["name"], "x": s["dates"], "y": s["values"]}
              for s in series]
    shapes = [{"type": "line", "x0": e["date"], "x1": e["date"], "yref": "paper", "y0": 0, "y1": 1,
               "line": {"dash": "dot", "color": "#c44", "width": 1}} for e in events if e.get("date")]
    dated = sorted(((i, e) for i, e in enumerate(events) if e.get("date")), key=lambda t: t[1]["date"])
    levels = _stagger([e["date"] for _, e in dated])
    annotations = [{"x": e["date"], "yref": "paper", "y": 1, "yanchor": "bottom", "yshift": 2 + 16 * lvl,
                    "text": str(i + 1), "showarrow": False, "font": {"size": 10, "color": "#c44"},
                    "hovertext": e.get("event", "")}
                   for (i, e), lvl in zip(dated, levels)]
    lay = _layout(title, "date", "price index", shapes=shapes, annotations=annotations)
    lay["margin"] = {**lay["margin"], "t": 40 + 16 * (max(levels) + 1 if levels else 0)}
    lay["title"] = {**lay["title"], "y": 0.99, "yanchor": "top"}
    return {"data": traces, "layout": lay}
