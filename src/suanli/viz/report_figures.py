"""The buyer report's charts as plain Plotly figure dicts, built from the report's JSON dict
(:meth:`suanli.app.report.BuyerReport.to_dict`): the web page draws them in the browser, the
CLI writes them to a self-contained HTML file; :func:`suanli.viz.charts.cost_chart` draws the
same content with matplotlib for PNG.

* **cost** -- owned and leased cost per million tokens per chip (horizontal bars, human names
  in English and Chinese); chips not obtainable at the date are drawn pale and say so; a chip
  without a lease (or owned) price says that where its bar would be; chips left out (no public
  price, cannot serve) are listed under the chart with the reason.
* **fair value** -- the fair price of the option against each obtainable alternative, with its
  P10-P90 range, the one fair value (the cheapest alternative) marked, and the asking price.
"""

from __future__ import annotations

from typing import Any

OWNED, LEASED, PALE, ASK = "#1f77b4", "#ff7f0e", "#c7c7c7", "#d62728"
_LAYOUT = {"template": None, "font": {"size": 12, "family": "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, "
                                                               "PingFang SC, sans-serif"},
           "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
_AXIS = {"gridcolor": "#ddd", "zeroline": False, "automargin": True}


def bar_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The chips with a bar (a cost), cheapest first (obtainable before not obtainable)."""
    return [c for c in data["chips"] if c.get("feasible") and (c.get("owned") or c.get("leased"))]


def cost_figure(data: dict[str, Any]) -> dict[str, Any]:
    rows = list(reversed(bar_rows(data)))   # horizontal bars: the cheapest at the top
    cur = data["currency"]
    names = [c["name"] + ("" if c["obtainable"] else f" (not obtainable {data['as_of']})") for c in rows]
    traces = []
    for key, colour, label in (("owned", OWNED, "owned (TCO)"), ("leased", LEASED, "leased")):
        xs = [(c.get(key) or {}).get("blended_per_mtok") for c in rows]
        traces.append({
            "type": "bar", "orientation": "h", "name": label, "y": names, "x": xs,
            "marker": {"color": [colour if c["obtainable"] else PALE for c in rows],
                       "line": {"color": colour, "width": 1}},
            "text": [f"{x:,.2f}" if x is not None else f"no {key} price" for x in xs],
            "textposition": "outside", "cliponaxis": False,
            "hovertemplate": "%{y}<br>" + label + ": %{x:.2f} " + cur + " per million tokens<extra></extra>"})
    left = data.get("left_out") or []
    note = "<br>".join(f"Not shown: {x['name']}: {x['why']}" for x in left)
    height = 140 + 62 * max(len(rows), 1) + 18 * len(left)
    return {"data": traces, "layout": {
        **_LAYOUT, "barmode": "group", "height": height,
        "title": {"text": f"{data['model']}, {data['workload']}<br>{cur} per million tokens, as of {data['as_of']}",
                  "font": {"size": 14}},
        "xaxis": {**_AXIS, "title": {"text": f"{cur} per million tokens (input + output, blended)"}, "rangemode": "tozero"},
        "yaxis": {**_AXIS, "title": {"text": ""}},
        "margin": {"l": 10, "r": 60, "t": 70, "b": 80 + 18 * len(left)},
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        "annotations": ([{"text": note, "xref": "paper", "yref": "paper", "x": 0, "y": 0, "yshift": -60,
                          "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
                          "font": {"size": 11, "color": "#555"}}] if note else [])}}


def fair_figure(data: dict[str, Any]) -> dict[str, Any] | None:
    f = data.get("fair_value")
    if not f or f.get("value") is None or not f.get("alternatives"):
        return None
    cur = data["currency"]
    scale, unit = (1e6, f"M {cur}") if cur == "USD" else (1e6, "M¥")
    alts = list(reversed(f["alternatives"]))
    ys = [f"vs {a['name']} ({a['basis']})" for a in alts]
    x = [a["fair_price"] / scale for a in alts]
    traces = [{"type": "scatter", "mode": "markers", "name": "fair value against this alternative", "y": ys, "x": x,
               "marker": {"size": 11, "color": [OWNED if a["hardware"] == f["against"] and a["fair_price"] == f["value"]
                                                else "#555" for a in alts]},
               "error_x": {"type": "data", "symmetric": False, "color": "#888",
                           "array": [(a["p90"] - a["fair_price"]) / scale for a in alts],
                           "arrayminus": [(a["fair_price"] - a["p10"]) / scale for a in alts]},
               "text": [a["price_text"] for a in alts],
               "hovertemplate": "%{y}<br>fair value %{x:.3g} " + unit + "<br>%{text}<extra></extra>"}]
    shapes, annotations = [], []
    if f.get("asking") is not None:
        ask = f["asking"] / scale
        shapes.append({"type": "line", "x0": ask, "x1": ask, "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"color": ASK, "dash": "dash", "width": 2}})
        annotations.append({"x": ask, "yref": "paper", "y": 1, "yanchor": "bottom", "showarrow": False,
                            "text": f"asking {ask:.3g} {unit}", "font": {"color": ASK}})
    lo = "below 0" if f["p10"] < 0 else f"{f['p10'] / scale:.3g}"
    title = f"Fair value of {f['option_name']}: {f['value'] / scale:.3g} {unit} (P10-P90 {lo} to {f['p90'] / scale:.3g})"
    return {"data": traces, "layout": {
        **_LAYOUT, "height": 160 + 48 * len(alts), "showlegend": False, "title": {"text": title, "font": {"size": 14}},
        "xaxis": {**_AXIS, "title": {"text": f"server price, {unit} (dot: fair value; bar: P10-P90)"}},
        "yaxis": {**_AXIS}, "margin": {"l": 10, "r": 30, "t": 60, "b": 60}, "shapes": shapes,
        "annotations": annotations}}


__all__ = ["bar_rows", "cost_figure", "fair_figure"]
