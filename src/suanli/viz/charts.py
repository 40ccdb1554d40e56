"""Throughput-vs-interactivity charts as PNG (matplotlib, Agg backend) or
self-contained interactive HTML (Plotly with its JavaScript embedded: no CDN,
works offline).  The output format follows the file suffix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from suanli.files import atomic_output, atomic_write, check_output

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
    """By week: expected units sold (bars), stock held (line) and units out on lease (line)."""
    p = check_plot_path(path)
    plan = rep.plan
    weeks = list(range(len(plan.sell_per_week_mean)))
    stock_weeks = list(range(len(plan.stock_mean)))
    leased = [plan.leased_units] * len(stock_weeks)
    title = (f"Dealer plan: {rep.inputs['units']} units, {plan.leased_units} leased out; expected NPV "
             f"{plan.npv_mean / 1e6:,.1f} M {rep.currency}")
    if p.suffix.lower() == ".png":
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=120)
        ax.bar(weeks, plan.sell_per_week_mean, label="units sold per week (mean over scenarios)")
        ax2 = ax.twinx()
        ax2.plot(stock_weeks, plan.stock_mean, color="black", label="units held in stock (mean)")
        ax2.plot(stock_weeks, leased, color="#ff7f0e", ls="--", label="units out on lease")
        ax.set_xlabel("week")
        ax.set_ylabel("units sold per week")
        ax2.set_ylabel("units held / on lease")
        ax2.set_ylim(bottom=0)
        ax.set_title(title, fontsize=10)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper right")
        fig.tight_layout()
        save(fig.savefig, p)
        plt.close(fig)
        return p
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Bar(x=weeks, y=list(plan.sell_per_week_mean), name="units sold per week (mean)"))
    fig.add_trace(go.Scatter(x=stock_weeks, y=list(plan.stock_mean), name="units held in stock (mean)", yaxis="y2"))
    fig.add_trace(go.Scatter(x=stock_weeks, y=leased, name="units out on lease", yaxis="y2", line=dict(dash="dash")))
    fig.update_layout(title=title, xaxis_title="week", yaxis_title="units sold per week",
                      yaxis2=dict(title="units held / on lease", overlaying="y", side="right", rangemode="tozero"),
                      template="plotly_white")
    save(lambda t: fig.write_html(str(t), include_plotlyjs=True, full_html=True), p)
    return p


def _cjk_font() -> str | None:
    """A font with Chinese glyphs known to matplotlib, else None (then names are shown in English)."""
    from matplotlib import font_manager

    names = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "WenQuanYi Zen Hei", "Source Han Sans SC",
             "Microsoft YaHei", "PingFang SC")

    def find() -> str | None:
        for name in names:
            try:
                font_manager.findfont(name, fallback_to_default=False)
                return name
            except ValueError:
                continue
        return None

    found = find()
    if found is None:  # a font installed after matplotlib cached its font list: add it
        for f in font_manager.findSystemFonts():
            if "NotoSansCJK" in f or "wqy" in f.lower():
                try:
                    font_manager.fontManager.addfont(f)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = find()
    return found


def cost_chart(rep: Any, path: str | Path) -> Path:
    """The buyer report's charts: owned and leased cost per million tokens per chip, and the fair
    value of the option against each alternative (see :mod:`suanli.viz.report_figures`)."""
    from suanli.viz.report_figures import bar_rows, cost_figure, fair_figure

    p = check_plot_path(path)
    data = rep.to_dict()
    if p.suffix.lower() == ".html":
        import plotly.graph_objects as go

        parts = [go.Figure(fig).to_html(full_html=False, include_plotlyjs=i == 0)
                 for i, fig in enumerate(f for f in (cost_figure(data), fair_figure(data)) if f)]
        atomic_write(p, "<!doctype html><html><head><meta charset='utf-8'><title>suanli buyer report</title></head>"
                     "<body>" + "".join(parts) + "</body></html>")
        return p
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cjk = _cjk_font()
    rows = list(reversed(bar_rows(data)))
    left = data.get("left_out") or []
    fair = data.get("fair_value") or {}
    alts = list(reversed(fair.get("alternatives") or [])) if fair.get("value") is not None else []
    cur = data["currency"]
    heights = [0.6 * max(len(rows), 1) + 1.2, 0.45 * len(alts) + 1.2] if alts else [0.6 * max(len(rows), 1) + 1.2]
    fig, axes = plt.subplots(len(heights), 1, figsize=(10, sum(heights) + 0.35 * len(left) + 0.6), dpi=120,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    ax = axes[0][0]
    font: dict[str, Any] = {"family": [cjk, "DejaVu Sans"]} if cjk else {}
    names = [(c["name"] if cjk else c["name_en"]) + ("" if c["obtainable"] else f"\n(not obtainable {data['as_of']})")
             for c in rows]
    y = list(range(len(rows)))
    for off, key, colour, label in ((0.2, "owned", "#1f77b4", "owned (TCO)"), (-0.2, "leased", "#ff7f0e", "leased")):
        for i, c in enumerate(rows):
            v = (c.get(key) or {}).get("blended_per_mtok")
            if v is None:
                ax.text(0, i + off, f"  no {key} price", va="center", fontsize=7, color="#777")
                continue
            ax.barh(i + off, v, height=0.38, color=colour if c["obtainable"] else "#c7c7c7", edgecolor=colour)
            ax.text(v, i + off, f" {v:,.2f}", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=8, **font)
    ax.set_xlabel(f"{cur} per million tokens (input + output, blended)")
    ax.set_title(f"{data['model']}, {data['workload']}\n{cur} per million tokens, as of {data['as_of']}", fontsize=10)
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color="#1f77b4", label="owned (TCO)"), Patch(color="#ff7f0e", label="leased"),
                       Patch(facecolor="#c7c7c7", edgecolor="#777", label=f"not obtainable {data['as_of']}")],
              fontsize=8, loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    if alts:
        fx = axes[1][0]
        unit = "M CNY" if cur == "CNY" else "M USD"
        ys = list(range(len(alts)))
        vals = [a["fair_price"] / 1e6 for a in alts]
        err = [[(a["fair_price"] - a["p10"]) / 1e6 for a in alts], [(a["p90"] - a["fair_price"]) / 1e6 for a in alts]]
        colours = ["#1f77b4" if a["hardware"] == fair["against"] and a["fair_price"] == fair["value"] else "#555"
                   for a in alts]
        fx.errorbar(vals, ys, xerr=err, fmt="none", ecolor="#999", capsize=3)
        fx.scatter(vals, ys, c=colours, zorder=3)
        labels = [f"vs {(a['name'] if cjk else a['name'].split(' · ')[0])} ({a['basis']})" for a in alts]
        fx.set_yticks(ys, labels, fontsize=8, **font)
        if fair.get("asking") is not None:
            fx.axvline(fair["asking"] / 1e6, color="#d62728", ls="--")
            fx.text(fair["asking"] / 1e6, 0.98, f" asking {fair['asking'] / 1e6:.3g}", color="#d62728", fontsize=8,
                    va="top", transform=fx.get_xaxis_transform())
        fx.set_xlabel(f"server price, {unit} (dot: fair value against that alternative; bar: P10-P90)")
        name = fair["option_name"] if cjk else fair["option_name"].split(" · ")[0]
        lo = "below 0" if fair["p10"] < 0 else f"{fair['p10'] / 1e6:.3g}"
        fx.set_title(f"Fair value of {name}: {fair['value'] / 1e6:.3g} {unit} (P10-P90 {lo} to "
                     f"{fair['p90'] / 1e6:.3g})", fontsize=10, **font)
        fx.grid(True, axis="x", alpha=0.3)
    bottom = 0.0
    if left:
        text = "\n".join(f"Not shown: {(x['name'] if cjk else x['name'].split(' · ')[0])}: {x['why']}" for x in left)
        fig.text(0.01, 0.005, text, fontsize=7, color="#555", va="bottom", **font)
        bottom = (0.16 * len(left) + 0.1) / fig.get_figheight()
    fig.tight_layout(rect=(0, bottom, 1, 1))
    save(fig.savefig, p)
    plt.close(fig)
    return p
