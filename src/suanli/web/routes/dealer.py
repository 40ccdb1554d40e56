"""Dealer page (``/dealer``) and ``/api/dealer/plan``: the NPV-maximising weekly sell / hold /
lease plan for a stock of accelerators under price scenarios."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, Query, Request

from suanli.errors import SuanliError
from suanli.web import deps, figures
from suanli.web.errors import from_suanli
from suanli.web.jsonutil import JSONResponse
from suanli.web.render import page, wants_json
from suanli.web.schemas import ERRORS, DealerOut

router = APIRouter(tags=["market"])

MAX_UNITS, MAX_WEEKS, MAX_PATHS = 5000, 156, 1000  # the server's bounds (the CLI allows more)
Money = Annotated[float, Query(ge=0, le=1e10, allow_inf_nan=False)]

# The page's example: an H20 141 GB stock bought at 880,000 CNY per 8-card module and offered
# at 1.05M CNY per module (shared/data/market-notes.md, dealers' 2025 prices), per card.
EXAMPLE = {"price": 131_250.0, "units": 80, "unit_cost": 110_000.0, "financing_rate": 0.06,
           "weekly_sell_capacity": 16}


def _scenarios() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(built-in scenario names, the default ones) as the app layer exposes them."""
    from suanli.app.dealer import BUILTIN, DEFAULT_SCENARIOS
    return tuple(BUILTIN), tuple(DEFAULT_SCENARIOS)


def plan_params(
    price: Annotated[float, Query(gt=0, le=1e10, allow_inf_nan=False, description="Sale price per unit today")],
    weekly_sell_capacity: Annotated[int, Query(ge=1, le=MAX_UNITS, description="Units the market absorbs per week")],
    units: Annotated[int, Query(ge=1, le=MAX_UNITS, description="Units in stock")],
    unit_cost: Annotated[float, Query(ge=0, le=1e10, allow_inf_nan=False, description="Cost per unit")],
    financing_rate: Annotated[float, Query(ge=0, lt=1, allow_inf_nan=False, description="Per year, e.g. 0.06")] = 0.06,
    lease_rate: Annotated[Money, Query(description="Lease income per unit-week at 100 % use")] = 0.0,
    lease_utilisation: Annotated[float, Query(ge=0, le=1, allow_inf_nan=False)] = 0.0,
    lease_max_units: Annotated[Optional[int], Query(ge=0, le=MAX_UNITS, description="Lease demand cap")] = None,
    storage_cost: Annotated[Money, Query(description="Per unit-week")] = 0.0,
    currency: Literal["CNY", "USD"] = "CNY",
    scenario: Annotated[Optional[list[str]], Query(max_length=16, description="Built-in scenarios (default: "
                                                   "compliant-supply-arrives, supply-halted, substitute-launches)")] = None,
    weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS)] = 52,
    paths: Annotated[int, Query(ge=1, le=MAX_PATHS, description="Price paths (scenarios mixed equally)")] = 200,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
) -> dict[str, Any]:
    return dict(price=price, weekly_sell_capacity=weekly_sell_capacity, units=units, unit_cost=unit_cost,
                financing_rate=financing_rate, lease_rate_week=lease_rate, lease_utilisation=lease_utilisation,
                lease_max_units=lease_max_units, storage_cost_week=storage_cost, currency=currency,
                scenarios=[s for s in scenario or [] if s.strip()] or None, weeks=weeks, paths=paths, seed=seed)


def dealer_data(kw: dict[str, Any]) -> dict[str, Any]:
    from suanli.app.dealer import dealer_plan

    return dealer_plan(**kw).to_dict()


@router.get("/api/dealer/plan", response_model=DealerOut, responses=ERRORS,
            summary="Sell / hold / lease plan for a dealer's stock under price scenarios")
def api_dealer(kw: Annotated[dict[str, Any], Depends(plan_params)]) -> Any:
    """Same as ``suanli dealer plan`` with the inventory given as units, unit cost and financing
    rate (bounded: ≤ 5,000 units, ≤ 156 weeks, ≤ 1,000 paths)."""
    return JSONResponse(dealer_data(kw))


@router.get("/api/dealer/plan/market", response_model=DealerOut, responses=ERRORS,
            summary="Plan for the stock of a chip held in the market database, at its price index")
def api_dealer_market(
    request: Request,
    chip: Annotated[str, Query(min_length=1, max_length=100, description="Chip (market name or catalog id)")],
    weekly_sell_capacity: Annotated[int, Query(ge=1, le=MAX_UNITS, description="Units the market absorbs per week")],
    owner: Annotated[Optional[str], Query(max_length=100, description="Inventory owner")] = None,
    channel: Literal["oem", "dealer", "grey", "cloud", "marketplace"] = "dealer",
    price: Annotated[Optional[float], Query(gt=0, le=1e10, allow_inf_nan=False,
                                            description="Default: the latest price-index point")] = None,
    financing_rate: Annotated[Optional[float], Query(ge=0, lt=1, allow_inf_nan=False)] = None,
    lease_rate: Money = 0.0, lease_utilisation: Annotated[float, Query(ge=0, le=1, allow_inf_nan=False)] = 0.0,
    lease_max_units: Annotated[Optional[int], Query(ge=0, le=MAX_UNITS)] = None, storage_cost: Money = 0.0,
    currency: Literal["CNY", "USD"] = "CNY", scenario: Annotated[Optional[list[str]], Query(max_length=16)] = None,
    weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS)] = 52, paths: Annotated[int, Query(ge=1, le=MAX_PATHS)] = 200,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
) -> Any:
    """Same as ``suanli dealer plan --chip``: the inventory lots of ``chip`` (per GPU) in the
    market database, priced at the latest weekly index point of ``channel`` unless ``price``."""
    from suanli.app import dealer as app_dealer
    from suanli.errors import InvalidInput
    from suanli.web.routes.market_api import market_db

    run = getattr(app_dealer, "dealer_plan_from_market", None)
    if run is None or deps.optional("suanli.app.market") is None:
        raise InvalidInput("this installation has no market database", field="chip")
    rep = run(chip, db=market_db(request), owner=owner, channel=channel, price=price, financing_rate=financing_rate,
              weekly_sell_capacity=weekly_sell_capacity, lease_rate_week=lease_rate,
              lease_utilisation=lease_utilisation, lease_max_units=lease_max_units, storage_cost_week=storage_cost,
              currency=currency, scenarios=[x for x in scenario or [] if x.strip()] or None, weeks=weeks,
              paths=paths, seed=seed)
    return JSONResponse(rep.to_dict())


def page_params(
    price: Annotated[float, Query(gt=0, le=1e10, allow_inf_nan=False)] = EXAMPLE["price"],
    weekly_sell_capacity: Annotated[int, Query(ge=1, le=MAX_UNITS)] = int(EXAMPLE["weekly_sell_capacity"]),
    units: Annotated[int, Query(ge=1, le=MAX_UNITS)] = int(EXAMPLE["units"]),
    unit_cost: Annotated[float, Query(ge=0, le=1e10, allow_inf_nan=False)] = EXAMPLE["unit_cost"],
    financing_rate: Annotated[float, Query(ge=0, lt=1, allow_inf_nan=False)] = EXAMPLE["financing_rate"],
    lease_rate: Money = 0.0, lease_utilisation: Annotated[float, Query(ge=0, le=1, allow_inf_nan=False)] = 0.0,
    lease_max_units: Annotated[Optional[int], Query(ge=0, le=MAX_UNITS)] = None, storage_cost: Money = 0.0,
    currency: Literal["CNY", "USD"] = "CNY", scenario: Annotated[Optional[list[str]], Query(max_length=16)] = None,
    weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS)] = 52, paths: Annotated[int, Query(ge=1, le=MAX_PATHS)] = 200,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
) -> dict[str, Any]:
    return plan_params(price, weekly_sell_capacity, units, unit_cost, financing_rate, lease_rate, lease_utilisation,
                       lease_max_units, storage_cost, currency, scenario, weeks, paths, seed)


@router.get("/dealer", include_in_schema=False)
def dealer_page(request: Request, kw: Annotated[dict[str, Any], Depends(page_params)]) -> Any:
    extra: dict[str, Any] = {"query": kw, "scenarios": _scenarios(), "example": EXAMPLE}
    try:
        data = dealer_data(kw)
    except SuanliError as exc:
        if wants_json(request):
            raise
        err = from_suanli(exc)
        extra["error"] = {"code": err.code, "message": err.message, "details": err.details}
        return page(request, "dealer.html", {}, status=err.status, extra=extra)
    extra["figure"] = figures.dealer(data["plan"], data["currency"])
    return page(request, "dealer.html", data, extra=extra)
