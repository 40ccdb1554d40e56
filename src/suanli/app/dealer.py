"""`dealer plan`: a dealer's inventory (units, cost, financing) against price
scenarios -> the NPV-maximising weekly sell / hold / lease plan."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from suanli.econ.dealer import DealerInputs, DealerPlan, plan
from suanli.econ.scenarios import BUILTIN, ScenarioSpec, build, spec_from_mapping
from suanli.errors import ConfigError, InvalidInput
from suanli.files import parse_json

DEFAULT_SCENARIOS = ("compliant-supply-arrives", "supply-halted", "substitute-launches")


@dataclass(frozen=True, kw_only=True)
class Inventory:
    units: int
    unit_cost: float          # quantity-weighted mean
    financing_rate: float     # quantity-weighted mean, per year
    currency: str
    rows: int


def read_inventory(path: str | Path) -> Inventory:
    """CSV (or JSON list) with owner,item,quantity,unit_cost,currency,acquisition_date,financing_rate;
    rows are aggregated (quantity-weighted cost and rate).  Every bad row is reported."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read inventory {p}: {exc}") from None
    if p.suffix.lower() == ".json":
        try:
            rows = parse_json(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: not JSON ({exc.msg})") from None
        numbered = list(enumerate(rows if isinstance(rows, list) else [], start=1))
    else:
        reader = csv.DictReader(io.StringIO(text))
        need = {"quantity", "unit_cost", "currency"}
        missing = need - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{p}: inventory header lacks {', '.join(sorted(missing))}")
        numbered = [(reader.line_num, r) for r in reader]
    errors, qty, cost, rate, cur = [], 0, 0.0, 0.0, set()
    for line, r in numbered:
        try:
            q = int(float(r["quantity"]))
            c = float(r["unit_cost"])
            f = float(r.get("financing_rate") or 0.0)
            if q < 1 or c < 0 or not 0 <= f < 1:
                raise ValueError("quantity >= 1, unit_cost >= 0, financing_rate in [0, 1) per year")
            currency = str(r["currency"]).strip().upper()
            if currency not in ("CNY", "USD"):
                raise ValueError(f"unknown currency {currency!r}")
        except (KeyError, TypeError, ValueError) as exc:
            errors.append(f"line {line}: {exc}")
            continue
        qty += q
        cost += q * c
        rate += q * f
        cur.add(currency)
    if errors:
        raise ConfigError(f"{p}: {len(errors)} bad row(s): " + "; ".join(errors))
    if not qty:
        raise ConfigError(f"{p}: no inventory rows")
    if len(cur) > 1:
        raise ConfigError(f"{p}: mixed currencies {sorted(cur)}; convert to one currency first")
    return Inventory(units=qty, unit_cost=cost / qty, financing_rate=rate / qty, currency=cur.pop(), rows=len(numbered))


def scenario_specs(names: Sequence[str] | None, files: Sequence[str | Path] = ()) -> tuple[ScenarioSpec, ...]:
    specs = []
    for name in names or ([] if files else DEFAULT_SCENARIOS):
        if name not in BUILTIN:
            raise InvalidInput(f"unknown scenario {name!r}; built-in: {', '.join(BUILTIN)} (or --scenario-file)",
                               field="scenario")
        specs.append(BUILTIN[name])
    for f in files:
        p = Path(f)
        try:
            data = parse_json(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read scenario file {p}: {exc}") from None
        for d in (data if isinstance(data, list) else [data]):
            specs.append(spec_from_mapping(d, default_name=p.stem))
    return tuple(specs)


@dataclass(frozen=True, kw_only=True)
class DealerReport:
    inputs: dict[str, Any]
    scenarios: list[dict[str, Any]]
    plan: DealerPlan
    currency: str

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "scenarios": self.scenarios, "currency": self.currency,
                "plan": self.plan.to_dict()}


def dealer_plan(*, price: float, units: int | None = None, unit_cost: float | None = None,
                financing_rate: float | None = None, inventory: str | Path | None = None,
                weekly_sell_capacity: int, lease_rate_week: float = 0.0, lease_utilisation: float = 0.0,
                lease_max_units: int | None = None, storage_cost_week: float = 0.0, currency: str = "CNY",
                scenarios: Sequence[str] | None = None, scenario_files: Sequence[str | Path] = (),
                weeks: int = 52, paths: int = 200, seed: int = 0) -> DealerReport:
    """Plan for an inventory given by file or by ``units``/``unit_cost``/``financing_rate``."""
    if inventory is not None:
        inv = read_inventory(inventory)
        if inv.currency != currency.upper():
            raise InvalidInput(f"inventory is in {inv.currency} but prices are in {currency}; never mixed silently",
                               field="currency")
        units, unit_cost = inv.units, inv.unit_cost
        financing_rate = inv.financing_rate if financing_rate is None else financing_rate
    if units is None or unit_cost is None or financing_rate is None:
        raise InvalidInput("give --inventory FILE, or --units, --unit-cost and --financing-rate", field="units")
    if currency.upper() not in ("CNY", "USD"):
        raise InvalidInput(f"unknown currency {currency!r}; expected CNY or USD", field="currency")
    if not 1 <= weeks <= 520 or not 1 <= paths <= 100_000:
        raise InvalidInput("horizon must be 1..520 weeks and paths 1..100,000", field="weeks")
    inp = DealerInputs(units=int(units), unit_cost=float(unit_cost), financing_rate_annual=float(financing_rate),
                       weekly_sell_capacity=int(weekly_sell_capacity), storage_cost_per_unit_week=storage_cost_week,
                       lease_rate_per_unit_week=lease_rate_week, lease_utilisation=lease_utilisation,
                       lease_max_units=lease_max_units)
    specs = scenario_specs(scenarios, scenario_files)
    sc = build(specs, price_now=float(price), weeks=weeks, paths=paths, seed=seed)
    result = plan(inp, sc)
    return DealerReport(inputs={k: getattr(inp, k) for k in inp.__dataclass_fields__} | {
        "price_now": price, "weeks": weeks, "paths": paths, "seed": seed},
        scenarios=[{"name": s.name, "drift_weekly": s.drift_weekly, "vol_weekly": s.vol_weekly,
                    "jumps": [j.__dict__ for j in s.jumps], "note": s.note, "source": s.source} for s in specs],
        plan=result, currency=currency.upper())


def dealer_plan_from_market(chip: str, *, db: Any = None, owner: str | None = None, channel: str = "dealer",
                            price: float | None = None, currency: str = "CNY", **kwargs: Any) -> DealerReport:
    """Plan for the stock of ``chip`` held in the market database (its inventory lots,
    per GPU) at the latest weekly price-index point of ``channel`` (unless ``price`` is given)."""
    from suanli.app.market import dealer_market
    from suanli.specs.accelerator import load_hardware

    # the market database names chips as quoted ("H20"); inventories may use catalog ids
    m = dealer_market(chip, db, owner=owner, currency=currency)
    all_lots = list(m.lots)
    canonical = load_hardware().resolve_id(chip)
    if canonical != chip:
        all_lots += list(dealer_market(canonical, db, owner=owner, currency=currency).lots)
    lots = [lot for lot in all_lots if lot.currency == currency.upper()]
    if not lots:
        raise InvalidInput(f"no inventory of {chip} in {currency} in the market database"
                           + (f" for owner {owner!r}" if owner else "") + " (import one with `suanli market import`)",
                           field="inventory")
    gpus = sum(lot.total_gpus for lot in lots)
    unit_cost = sum(lot.total_gpus * lot.cost_per_gpu for lot in lots) / gpus
    rates = [(lot.total_gpus, lot.financing_rate) for lot in lots if lot.financing_rate is not None]
    financing = kwargs.pop("financing_rate", None)
    if financing is None:
        financing = sum(n * r for n, r in rates) / sum(n for n, _ in rates) if rates else None
    source = "given (--price)"
    if price is None:
        point = m.latest_price(channel) or m.latest_price("oem") or None
        if point is None:
            raise InvalidInput(f"no {channel} price index for {chip}; give --price", field="price")
        price, source = point.price, f"price index {chip} {channel}, week of {point.week.isoformat()} ({point.n} quotes)"
    rep = dealer_plan(price=float(price), units=gpus, unit_cost=unit_cost, financing_rate=financing,
                      currency=currency, **kwargs)
    rep.inputs.update(price_source=source, inventory_lots=len(lots), chip=chip,
                      events=[f"{e.date.isoformat()} {e.description}" for e in m.events[-5:]])
    return rep
