"""What could be obtained in China, when (:mod:`suanli.app.availability`): every timeline row
cites a bundled event, and the states at the seed article's moment and today."""

from __future__ import annotations

import csv
from importlib.resources import files

import pytest

from suanli.app.availability import resolve_as_of, status, timeline
from suanli.errors import InvalidInput
from suanli.specs.accelerator import load_hardware

CAT = load_hardware()


def _csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader((files("suanli") / "data" / "market" / name).read_text(encoding="utf-8").splitlines()))


def test_every_row_cites_a_bundled_event_or_the_catalog() -> None:
    events = {(r["date"], r["source_url"]) for name in ("events.csv", "events-research.csv") for r in _csv(name)}
    for r in _csv("availability.csv"):
        acc = CAT.get(r["chip"])                        # a catalog id
        assert r["effect"] in ("open", "restricted", "grey", "none", "caveat", "note"), r
        assert r["rumoured"] in ("true", "false") and r["assumed"] in ("true", "false"), r
        cited = (r["date"], r["source_url"]) in events or r["source_url"] in acc.source_urls
        assert cited, f"{r['chip']} {r['date']}: {r['source_url']} is not an event of the bundle"


@pytest.mark.parametrize("chip", ["H20", "H20-141G", "L20", "H200", "H100", "910B", "910C", "K100-AI", "MLU370-X8"])
def test_default_chips_have_a_dated_timeline(chip: str) -> None:
    rows = timeline(CAT.get(chip))
    assert rows and any(e.effect in ("open", "restricted", "grey") for e in rows)


def test_seed_moment_and_today() -> None:
    h200, h20, h100 = CAT.get("H200"), CAT.get("H20"), CAT.get("H100")
    seed = status(h200, "2025-07-15")
    assert not seed.obtainable and seed.state == "grey" and seed.reason is not None
    assert seed.reason.date == "2023-10-17"                          # the BIS TPP rule
    now = status(h200, "2026-12-06")
    assert now.obtainable and now.state == "restricted" and now.reason is not None
    assert now.reason.date == "2026-01-28" and "geo.tv" in now.reason.source   # China approves H200 imports
    assert status(h200, "2026-01-20").state == "grey"               # US rule out, China approval not yet
    # the H20: licence required from 2025-04-09, resumption announced 2025-07-15
    assert status(h20, "2025-05-01").state == "grey"
    mid = status(h20, "2025-07-15")
    assert mid.obtainable and mid.reason is not None and mid.reason.date == "2025-07-15"
    later = status(h20, "2025-12-01")
    assert {"2025-08-11", "2025-08-22", "2025-11-05"} <= {c.date for c in later.caveats}
    assert not status(h100, "2026-12-06").obtainable
    assert status(h100, "2026-12-06", include_grey=True).obtainable


def test_before_the_first_statement_not_on_sale() -> None:
    s = status(CAT.get("910C"), "2024-06-01")
    assert not s.obtainable and s.state == "none" and "not yet on sale" in s.reason_text()


def test_catalog_fallback() -> None:
    b200 = status(CAT.get("B200"), "2026-12-06")
    assert not b200.obtainable and b200.state == "grey"
    p800 = CAT.get("kunlunxin_p800")                                 # domestic, launch 2024, no rows of its own
    assert status(p800, "2025-01-01").obtainable
    assert not status(p800, "2023-06-01").obtainable


def test_resolve_as_of() -> None:
    assert resolve_as_of("2025-07-15") == "2025-07-15"
    assert len(resolve_as_of(None)) == 10
    with pytest.raises(InvalidInput):
        resolve_as_of("2025-13-01")
