"""Throughput-vs-interactivity charts as PNG (matplotlib, Agg backend) or
self-contained interactive HTML (Plotly with its JavaScript embedded: no CDN,
works offline).  The output format follows the file suffix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from suanli.files import atomic_output, check_output

SUFFIXES = (".png", ".html")


def check_plot_path(path: str | Path, *, protected: Iterable[Path] = ()) -> Path:
    """``path`` when a chart may be written there (.png or .html, existing directory, never
    one of the ``protected`` files such as the market database)."""
    return check_output(path, suffixes=SUFFIXES, field="plot", what="plot file", protected=protected)


def save(write: Callable[[Path], Any], path: Path) -> Path:
    """Run ``write(tmp)`` and move the file onto ``path`` (mode 0644) only when it succeeds."""
    with atomic_output(path) as tmp:
        write(tmp)
    return path


def _label(hw: str, unverified: bool) -> str:
    return f"{hw} (unverified specs)" if unverified else hw


def frontier_chart(frontiers: Sequence[Any], path: str | Path, *, title: str,
                   best: dict[str, tuple[float, float]] | None = None) -> Path:
    """One line per chip: output tokens/s per GPU (y) against tokens/s per user
    (x); ``best`` marks a chosen point per chip (e.g. compare's pick)."""
    p = check_plot_path(path)
    series = [(_label(f.hardware, f.unverified), [pt["tok_s_per_user"] for pt in f.points],
               [pt["output_tok_s_per_gpu"] for pt in f.points],
               [pt.get("description", "") for pt in f.points], f.hardware) for f in frontiers if f.points]
    if p.suffix.lower() == ".png":
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
        for label, x, y, _, hw in series:
            line, = ax.plot(x, y, marker="o", ms=3, label=label)
            if best and hw in best:
                ax.plot(*best[hw], marker="*", ms=14, color=line.get_color(), mec="black")
        ax.set_xlabel("tokens/s per user (1 / TPOT)")
        ax.set_ylabel("output tokens/s per GPU")
        ax.set_title(title, fontsize=10)
        ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        save(fig.savefig, p)
        plt.close(fig)
        return p
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, x, y, text, hw in series:
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=label, text=text,
                                 hovertemplate="%{text}<br>%{x:.1f} tok/s/user<br>%{y:.0f} tok/s/GPU"))
        if best and hw in best:
            fig.add_trace(go.Scatter(x=[best[hw][0]], y=[best[hw][1]], mode="markers", showlegend=False,
                                     marker=dict(symbol="star", size=16, line=dict(width=1)), name=f"{hw} best"))
    fig.update_layout(title=title, xaxis_title="tokens/s per user (1 / TPOT)", xaxis_type="log",
                      yaxis_title="output tokens/s per GPU", template="plotly_white")
    save(lambda t: fig.write_html(str(t), include_plotlyjs=True, full_html=True), p)
    return p


def dealer_chart(rep: Any, path: str | Path) -> Path:
    """Expected units sold per week and stock over the horizon."""
    p = check_plot_path(path)
    plan = rep.plan
    weeks = list(range(len(plan.sell_per_week_mean)))
    title = (f"Dealer plan: {rep.inputs['units']} units, leased {plan.leased_units}; expected NPV "
             f"{plan.npv_mean / 1e6:,.1f} M {rep.currency}")
    if p.suffix.lower() == ".png":
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=120)
        ax.bar(weeks, plan.sell_per_week_mean, label="units sold (mean over scenarios)")
        ax2 = ax.twinx()
        ax2.plot(range(len(plan.stock_mean)), plan.stock_mean, color="black", label="stock (mean)")
        ax.set_xlabel("week")
        ax.set_ylabel("units sold")
        ax2.set_ylabel("units in stock")
        ax.set_title(title, fontsize=10)
        fig.tight_layout()
        save(fig.savefig, p)
        plt.close(fig)
        return p
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Bar(x=weeks, y=list(plan.sell_per_week_mean), name="units sold (mean)"))
    fig.add_trace(go.Scatter(x=list(range(len(plan.stock_mean))), y=list(plan.stock_mean), name="stock (mean)",
                             yaxis="y2"))
    fig.update_layout(title=title, xaxis_title="week", yaxis_title="units sold",
                      yaxis2=dict(title="units in stock", overlaying="y", side="right"), template="plotly_white")
    save(lambda t: fig.write_html(str(t), include_plotlyjs=True, full_html=True), p)
    return p


def cost_chart(rep: Any, path: str | Path) -> Path:
    """Owned and leased cost per million tokens per chip (bars)."""
    p = check_plot_path(path)
    rows = [c for c in rep.ranked() if c.feasible and (c.owned or c.leased)]
    names = [c.hardware for c in rows]
    owned = [c.owned.blended_per_mtok if c.owned else 0.0 for c in rows]
    leased = [c.leased.blended_per_mtok if c.leased else 0.0 for c in rows]
    title = f"{rep.model}, {rep.workload}: {rep.currency} per million tokens (suanli)"
    if p.suffix.lower() == ".png":
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4.8), dpi=120)
        x = range(len(names))
        ax.bar([i - 0.2 for i in x], owned, width=0.4, label="owned (TCO)")
        ax.bar([i + 0.2 for i in x], leased, width=0.4, label="leased")
        ax.set_xticks(list(x), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(f"{rep.currency} per million tokens")
        ax.set_title(title, fontsize=10)
        ax.legend()
        fig.tight_layout()
        save(fig.savefig, p)
        plt.close(fig)
        return p
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(x=names, y=owned, name="owned (TCO)"), go.Bar(x=names, y=leased, name="leased")])
    fig.update_layout(title=title, yaxis_title=f"{rep.currency} per million tokens", barmode="group",
                      template="plotly_white")
    save(lambda t: fig.write_html(str(t), include_plotlyjs=True, full_html=True), p)
    return p
