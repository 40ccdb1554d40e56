"""Price-index charts: per-GPU price by channel (weekly median, confidence band, markers
sized by the number of quotes) with the chip's events as dated vertical lines.  PNG
(matplotlib, Agg) or self-contained HTML (Plotly with its JavaScript embedded), chosen by
the file suffix, like :mod:`suanli.viz.charts`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from suanli.viz.charts import check_plot_path, save


def _series(index: Any) -> list[tuple[str, list[date], list[float], list[float], list[float], list[int]]]:
    out = []
    for channel, s in sorted(index.series.items()):
        if s.points:
            out.append((channel, [p.week for p in s.points], [p.price for p in s.points],
                        [p.low for p in s.points], [p.high for p in s.points], [p.n for p in s.points]))
    return out


def _unit(index: Any) -> str:
    return f"{index.currency} per GPU" + ("-hour" if index.result.measure == "rent" else "")


def price_index_chart(index: Any, path: str | Path, *, title: str | None = None) -> Path:
    """Draw ``index`` (a :class:`suanli.market.index.PriceIndex`) to ``path``."""
    p = check_plot_path(path)
    title = title or f"{index.chip}: {'rent' if index.result.measure == 'rent' else 'price'} per GPU by channel"
    series = _series(index)
    events = list(index.events)
    if series:
        lo = min(min(w) for _, w, *_ in series)
        hi = max(max(w) for _, w, *_ in series)
        events = [e for e in events if lo <= e.date <= hi] or events
    if p.suffix.lower() == ".png":
        _png(p, title, _unit(index), series, events)
    else:
        _html(p, title, _unit(index), series, events)
    return p


KIND_COLOURS = {"export_control": "tab:red", "licence": "tab:green", "policy": "tab:purple", "supply": "tab:brown",
                "demand": "tab:olive", "price": "tab:cyan", "product_launch": "tab:pink", "other": "grey"}
MAX_LISTED = 40


def _png(p: Path, title: str, unit: str, series: list[Any], events: list[Any]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    listed = events[:MAX_LISTED]
    rows = len(listed) + (1 if len(events) > MAX_LISTED else 0)
    list_h = 0.16 * rows + 0.3 if rows else 0.0
    fig = plt.figure(figsize=(10, 5.2 + list_h), dpi=120)
    grid = fig.add_gridspec(2, 1, height_ratios=[5.2, max(list_h, 0.01)], hspace=0.25)
    ax = fig.add_subplot(grid[0])
    for channel, weeks, price, low, high, n in series:
        line, = ax.plot(weeks, price, lw=1.4, label=f"{channel} ({sum(n)} quotes)")
        c = line.get_color()
        ax.scatter(weeks, price, s=[14 + 10 * k for k in n], color=c, zorder=3)
        ax.errorbar(weeks, price, yerr=[[a - b for a, b in zip(price, low)], [b - a for a, b in zip(price, high)]],
                    fmt="none", ecolor=c, alpha=0.5, capsize=3)
        if len(weeks) > 1:
            ax.fill_between(weeks, low, high, color=c, alpha=0.1)
    seen: set[str] = set()
    for i, e in enumerate(listed, start=1):
        colour = KIND_COLOURS.get(e.kind, "grey")
        ax.axvline(e.date, color=colour, lw=0.8, ls="--", alpha=0.6,
                   label=f"event: {e.kind}" if e.kind not in seen else None)
        seen.add(e.kind)
        ax.annotate(str(i), xy=(e.date, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2 + 7 * (i % 2)),
                    textcoords="offset points", ha="center", fontsize=5.5, color=colour)
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=10, pad=16)
    ax.grid(True, alpha=0.3)
    if series or seen:
        ax.legend(fontsize=7, loc="best")
    if not series:
        ax.text(0.5, 0.5, "no quotes", transform=ax.transAxes, ha="center")
    for label in ax.get_xticklabels():
        label.set_rotation(20)
    if rows:
        lx = fig.add_subplot(grid[1])
        lx.axis("off")
        lines = [f"{i:>2}  {e.date.isoformat()}  [{e.kind}]  {_label_long(e.description)}"
                 for i, e in enumerate(listed, start=1)]
        if len(events) > MAX_LISTED:
            lines.append(f"... and {len(events) - MAX_LISTED} more (suanli market events --chip ...)")
        lx.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=6, family="monospace",
                transform=lx.transAxes)
    save(lambda t: fig.savefig(t, bbox_inches="tight"), p)
    plt.close(fig)


def _label_long(text: str, width: int = 130) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("$", r"\$")  # no mathtext: "$12,000-15,000" is money


def _html(p: Path, title: str, unit: str, series: list[Any], events: list[Any]) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    for channel, weeks, price, low, high, n in series:
        x = [w.isoformat() for w in weeks]
        fig.add_trace(go.Scatter(x=x + x[::-1], y=high + low[::-1], fill="toself", opacity=0.15,
                                 line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=channel,
                                 name=f"{channel} band"))
        fig.add_trace(go.Scatter(x=x, y=price, mode="lines+markers", name=f"{channel} ({sum(n)} quotes)",
                                 legendgroup=channel, marker=dict(size=[6 + 3 * k for k in n]),
                                 customdata=list(zip(n, low, high)),
                                 hovertemplate="week of %{x}<br>%{y:,.0f}<br>n=%{customdata[0]}"
                                               "<br>band %{customdata[1]:,.0f} to %{customdata[2]:,.0f}"))
    for e in events:
        fig.add_vline(x=e.date.isoformat(), line_width=1, line_dash="dash", line_color="grey", opacity=0.5)
    if events:
        ymax = max((max(h) for *_, h, _n in series), default=1.0)
        fig.add_trace(go.Scatter(
            x=[e.date.isoformat() for e in events], y=[ymax * 1.05] * len(events), mode="markers",
            marker=dict(symbol="triangle-down", size=9, color="grey"), name="events",
            text=[f"{e.date.isoformat()} [{e.kind}] {' '.join(e.description.split())}" for e in events],
            hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(title=title, yaxis_title=unit, xaxis_title="week", template="plotly_white",
                      hovermode="closest")
    save(lambda t: fig.write_html(str(t), include_plotlyjs=True, full_html=True), p)
