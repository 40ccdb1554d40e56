"""Hardware and model catalogs: ``/api/hardware``, ``/api/models``, ``/api/systems`` and the
Chips pages (``/chips``, ``/chips/{id}``) with their ``?format=json`` twins."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from suanli.errors import SuanliError
from suanli.specs.model import bundled_model_ids, load_model
from suanli.specs.system import load_systems
from suanli.web import deps
from suanli.web.errors import not_found
from suanli.web.jsonutil import JSONResponse
from suanli.web.render import page
from suanli.web.schemas import ERRORS, AcceleratorOut, ChipPage, ModelOut

router = APIRouter(tags=["catalogs"])

ChipPath = Annotated[str, Path(min_length=1, max_length=100, description="Accelerator id or alias")]
_DATE = re.compile(r"\b(\d{4}-\d{2}(?:-\d{2})?|\d{4}-Q[1-4])\b")


def _get(chip: str) -> Any:
    try:
        return deps.catalog().get(chip)
    except SuanliError as exc:
        raise not_found(exc) from None


def hardware_list(china_buyable: bool = False) -> list[dict[str, Any]]:
    return [deps.accelerator_dict(a) for a in deps.catalog() if a.china_buyable or not china_buyable]


@router.get("/api/hardware", response_model=list[AcceleratorOut], summary="Accelerator catalog")
def api_hardware(china_buyable: Annotated[bool, Query(description="Only chips buyable in China today")] = False) -> Any:
    """Every accelerator with its sources, assumed values and unverified (rumoured) flags."""
    return JSONResponse(hardware_list(china_buyable))


def export_timeline(acc: Any) -> list[dict[str, Any]]:
    """Dated statements of the catalog's export-status text (each clause with its first date),
    plus the launch; used when no market events are available."""
    out = []
    if acc.launch:
        m = _DATE.search(acc.launch)
        out.append({"date": m.group(1) if m else acc.launch, "event": f"launch: {acc.launch}", "kind": "launch",
                    "source": "catalog (launch)"})
    for clause in (c.strip() for c in acc.china_export_status.split(";")):
        m = _DATE.search(clause)
        if clause:
            out.append({"date": m.group(1) if m else "", "event": clause, "kind": "export_status",
                        "source": "catalog (china_export_status)"})
    return sorted(out, key=lambda e: e["date"] or "9999")


def chip_data(chip: str, request: Request | None = None) -> dict[str, Any]:
    """The one data dict behind ``/chips/{id}`` and ``/api/hardware/{id}``."""
    acc = _get(chip)
    systems = [{"id": s.id, "name": s.name, "gpus": s.gpus, "price_low": s.price_low, "price_high": s.price_high,
                "currency": s.currency, "price_date": s.price_date, "source_url": s.source_url,
                "scaleout_gbps_per_gpu": s.scaleout_gbps_per_gpu}
               for s in load_systems(hardware=deps.catalog()).for_gpu(acc.id)]
    from suanli.web.routes.market import chip_market

    market = chip_market(acc, request)
    timeline = export_timeline(acc) + (market["events"] if market else [])
    from suanli.app import availability as av

    availability = {"timeline": [e.to_dict() for e in av.timeline(acc)],
                    "today": av.status(acc, av.resolve_as_of(None)).to_dict()}
    return {"chip": deps.accelerator_dict(acc), "systems": systems, "availability": availability,
            "timeline": sorted(timeline, key=lambda e: e.get("date") or "9999"),
            "prices": market["prices"] if market else [], "price_index": market["index"] if market else None,
            "market_chip": market["market_chip"] if market else None, "market_available": market is not None}


@router.get("/api/hardware/{chip}", response_model=ChipPage, responses=ERRORS,
            summary="One accelerator: specs with sources, export-status timeline, price history")
def api_chip(request: Request, chip: ChipPath) -> Any:
    """An unknown id answers 404 (an id in the path names a resource)."""
    return JSONResponse(chip_data(chip, request))


@router.get("/api/models", response_model=list[ModelOut], summary="Bundled model configs")
def api_models() -> Any:
    return JSONResponse([load_model(mid).summary() for mid in bundled_model_ids()])


@router.get("/api/models/{model_id:path}", responses=ERRORS,
            summary="Structure, parameter counts and KV-cache size of one bundled model")
def api_model(model_id: Annotated[str, Path(min_length=1, max_length=200, examples=["Qwen/Qwen3-32B"])]) -> Any:
    from suanli.app.catalogs import model_details

    try:
        spec = load_model(deps.resolve_model(model_id))
    except SuanliError as exc:
        raise not_found(exc) from None
    return JSONResponse({**spec.summary(), "details": model_details(spec)})


@router.get("/api/systems", summary="Server systems: GPUs, accelerator, scale-out network, price")
def api_systems() -> Any:
    return JSONResponse([{"id": s.id, "name": s.name, "gpus": s.gpus, "gpu_id": s.gpu_id, "price_low": s.price_low,
                          "price_high": s.price_high, "currency": s.currency, "price_date": s.price_date,
                          "scaleout_gbps_per_gpu": s.scaleout_gbps_per_gpu, "scaleout_kind": s.scaleout_kind,
                          "assumed": dict(s.assumed), "source_url": s.source_url}
                         for s in load_systems(hardware=deps.catalog())])


@router.get("/chips", include_in_schema=False)
def chips_page(request: Request, china_buyable: bool = False) -> Any:
    return page(request, "chips.html", {"chips": hardware_list(china_buyable)},
                extra={"china_buyable": china_buyable})


@router.get("/chips/{chip}", include_in_schema=False)
def chip_page(request: Request, chip: ChipPath) -> Any:
    data = chip_data(chip, request)
    extra: dict[str, Any] = {}
    idx = data["price_index"]
    if idx and idx.get("series"):
        from suanli.web import figures
        from suanli.web.routes.market import _day

        series = [{"name": f"{ch} ({idx['currency']} per GPU, weekly)", "dates": [p["week"] for p in s["points"]],
                   "values": [p["price"] for p in s["points"]]} for ch, s in idx["series"].items()]
        events = [{"date": _day(e["date"]), "event": e["event"]} for e in data["timeline"]
                  if e.get("kind") not in ("launch", "export_status") and e.get("date")]
        extra["figure"] = figures.price_index(series, events, f"{data['chip']['name']}: price index per GPU")
    return page(request, "chip.html", data, extra=extra)
