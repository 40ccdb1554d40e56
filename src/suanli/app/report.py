"""The buyer report (the main job): for a default workload, the chips one can
buy in China today ranked by cost per million tokens, owned and leased, and
the fair price of an 8xH20 server against its alternatives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from suanli.app.economics import ChipCost, context, cost, fairprice, resolve_workload
from suanli.errors import SuanliError

DEFAULT_MODEL = "Qwen/Qwen3-32B"
DEFAULT_WORKLOAD = "chat"
H20_SERVER = "cn_h20_141gb_server_leiphone"      # the common 8xH20 141 GB configuration (no IB), 1.28 M CNY
# alternatives with a dated price in systems.csv
ALTERNATIVES = ("cn_h200_8gpu_machine_2026", "cn_hgx_h20_8gpu_2024", "cn_h100_nvlink_8gpu_2024")


@dataclass(frozen=True, kw_only=True)
class FairRow:
    vs: str
    vs_basis: str
    fair_price: float | None
    asked: float | None
    verdict: str


@dataclass(frozen=True, kw_only=True)
class BuyerReport:
    model: str
    workload: str
    currency: str
    chips: tuple[ChipCost, ...]
    fair: tuple[FairRow, ...]
    h20_server: str
    explain: tuple[tuple[str, Any, str, str], ...]

    def ranked(self) -> list[ChipCost]:
        """Feasible chips by owned blended cost per million tokens (leased, then unpriced last)."""
        def key(c: ChipCost) -> tuple[int, float]:
            if c.owned is not None:
                return (0, c.owned.blended_per_mtok)
            if c.leased is not None:
                return (1, c.leased.blended_per_mtok)
            return (2 if c.feasible else 3, -(c.output_tok_s_per_gpu or 0.0))
        return sorted(self.chips, key=key)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "workload": self.workload, "currency": self.currency,
                "chips": [c.to_dict() for c in self.ranked()], "h20_server": self.h20_server,
                "fair_price_of_h20_server": [vars(f) for f in self.fair],
                "explain": [dict(zip(("name", "value", "unit", "source"), e)) for e in self.explain]}


def buyer_report(model: str = DEFAULT_MODEL, *, workload: str = DEFAULT_WORKLOAD, chips: Sequence[str] | None = None,
                 h20_server: str = H20_SERVER, alternatives: Sequence[str] = ALTERNATIVES,
                 currency: str = "CNY") -> BuyerReport:
    ctx = context(currency=currency)
    wl = resolve_workload(workload)
    rep = cost(model, chips, workload_name=workload, ctx=ctx)
    fair = []
    for alt in alternatives:
        try:
            f = fairprice(h20_server, alt, model=model, mix=[(wl, 1.0)], ctx=ctx)
        except SuanliError as exc:
            fair.append(FairRow(vs=alt, vs_basis="", fair_price=None, asked=None, verdict=f"not comparable: {exc}"))
            continue
        r = f.result
        if not r.feasible:
            verdict = f"no positive price matches {alt}: its running costs alone exceed the alternative's"
        elif r.x_asked_price is None:
            verdict = "no asking price for the H20 server"
        else:
            ratio = r.x_asked_price / r.fair_price
            verdict = (f"the H20 server is {'over' if ratio > 1 else 'under'}priced at {ratio:.0%} of its fair price "
                       f"against {alt}")
        fair.append(FairRow(vs=alt, vs_basis=f.vs_basis, fair_price=r.fair_price if r.feasible else None,
                            asked=r.x_asked_price, verdict=verdict))
    return BuyerReport(model=rep.model, workload=wl.label(), currency=rep.currency, chips=rep.chips,
                       fair=tuple(fair), h20_server=h20_server, explain=tuple(ctx.items and
                       [(i.name, i.value, i.unit, i.source) for i in ctx.items.values()]))
