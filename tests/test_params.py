"""One declaration per parameter (suanli.app.params): the CLI options, the OpenAPI schema and the
Python signatures agree with it on name, default, bounds and choices, and a value out of bounds
gets the same message from all three."""

from __future__ import annotations

import inspect
import math
from typing import Any

import click
import pytest
import typer
from typer.testing import CliRunner

from suanli.app import params as P
from suanli.app.compare import compare
from suanli.app.predict import predict, resolve
from suanli.app.simulate import simulate
from suanli.cli.main import app as cli_app
from suanli.errors import InvalidInput

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from suanli.web.app import create_app  # noqa: E402

QWEN = {"model": "Qwen/Qwen3-32B", "hardware": "H20"}

# command -> (API path, Python functions, declared parameters it takes)
SURFACES: list[tuple[str, str, tuple[Any, ...], tuple[P.Param, ...]]] = [
    ("predict", "/api/predict", (predict, resolve), (*P.DEPLOYMENT, *P.WORKLOAD)),
    ("simulate", "/api/simulate", (simulate,),
     (P.GPUS, P.TP, P.PP, P.EP, P.DP_ATTENTION, P.WEIGHT_DTYPE, P.KV_DTYPE, P.ENGINE, P.ISL, P.OSL,
      P.REQUEST_RATE)),
    ("cost", "/api/cost", (), (*P.ECONOMICS, P.PRESET_ISL, P.PRESET_OSL, P.PRESET_TTFT_MS, P.PRESET_TPOT_MS)),
    ("lease", "/api/lease", (), tuple(P.ECONOMICS)),
    ("fairprice", "/api/fairprice", (), (*P.ECONOMICS, P.PRESET_ISL, P.PRESET_OSL)),
]


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app().openapi()


def _click_params(command: str) -> dict[str, click.Parameter]:
    group = typer.main.get_command(cli_app)
    cmd = group.get_command(click.Context(group), command)  # type: ignore[attr-defined]
    return {p.name: p for p in cmd.params if p.name}


def _lo_hi(p: P.Param) -> tuple[float | None, float | None]:
    return (p.ge if p.ge is not None else p.gt), (p.le if p.le is not None else p.lt)


def _schema_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """minimum / exclusiveMinimum / maximum / exclusiveMaximum / enum of a (possibly Optional) schema."""
    out: dict[str, Any] = {}
    for part in [schema, *schema.get("anyOf", [])]:
        for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "enum"):
            if key in part:
                out[key] = part[key]
    return out


def _cases() -> list[tuple[str, str, tuple[Any, ...], P.Param]]:
    return [(cmd, path, funcs, p) for cmd, path, funcs, params in SURFACES for p in params]


@pytest.mark.parametrize(("command", "path", "funcs", "p"), _cases(),
                         ids=[f"{c}-{p.name}" for c, _, _, p in _cases()])
def test_cli_api_and_python_agree_with_the_declaration(command: str, path: str, funcs: tuple[Any, ...],
                                                       p: P.Param, openapi: dict[str, Any]) -> None:
    # CLI: flags, default, help (with unit), range
    opt = _click_params(command)[p.name]
    assert tuple(opt.opts) == p.cli_flags
    assert opt.default == p.default
    assert opt.help == p.description
    lo, hi = _lo_hi(p)
    if p.type in (int, float) and p.choices is None and (lo is not None or hi is not None):
        assert (getattr(opt, "min", None), getattr(opt, "max", None)) == (lo, hi)

    # OpenAPI: name, default, description, bounds, choices
    query = {q["name"]: q for q in openapi["paths"][path]["get"]["parameters"]}
    assert p.name in query, f"{path} has no parameter {p.name}"
    schema = query[p.name]["schema"]
    assert schema.get("default") == p.default
    assert query[p.name].get("description") == p.description
    bounds = _schema_bounds(schema)
    expected = {k: v for k, v in (("minimum", p.ge), ("exclusiveMinimum", p.gt), ("maximum", p.le),
                                  ("exclusiveMaximum", p.lt)) if v is not None}
    if p.choices is not None or p.canonical is not None:
        expected["enum"] = list(p.choices or p.canonical or ())
    assert bounds == expected

    # Python: the keyword and its default
    for fn in funcs:
        sig = inspect.signature(fn)
        assert p.name in sig.parameters, f"{fn.__name__} has no keyword {p.name}"
        assert sig.parameters[p.name].default == p.default, fn.__name__


@pytest.mark.parametrize("command", ["predict", "compare", "pareto", "sweep", "simulate", "cost", "fairprice"])
def test_profile_option_is_the_declared_one(command: str) -> None:
    opt = _click_params(command)["profile"]
    assert tuple(opt.opts) == P.PROFILE.cli_flags and opt.help == P.PROFILE.description
    assert opt.default is None and opt.metavar == P.PROFILE.metavar


def test_predict_has_an_explicit_signature() -> None:
    """No **kwargs pass-through: every keyword of resolve() is a keyword of predict()."""
    pred = inspect.signature(predict).parameters
    assert not any(q.kind is inspect.Parameter.VAR_KEYWORD for q in pred.values())
    assert set(inspect.signature(resolve).parameters) <= set(pred)
    assert "**" not in str(inspect.signature(compare))


def test_every_declared_parameter_is_used_somewhere() -> None:
    used = {p.name for _, _, _, params in SURFACES for p in params}
    assert {p.name for p in (*P.DEPLOYMENT, *P.WORKLOAD, *P.ECONOMICS)} <= used


@pytest.mark.parametrize(("p", "value"), [
    (P.TP, 0), (P.GPUS, 5000), (P.ISL, 0.5), (P.OSL, 2e6), (P.REQUEST_RATE, 0), (P.CONCURRENCY, 0.5),
    (P.NUM_REQUESTS, 0), (P.ENGINE, "tgi"), (P.SCENARIO, "bogus"),
])
def test_out_of_bounds_is_one_message_everywhere(p: P.Param, value: Any) -> None:
    message = p.message(value)
    assert message.startswith(f"{p.flag} must be ")
    # Python API
    with pytest.raises(InvalidInput) as exc:
        predict(QWEN["model"], QWEN["hardware"], **{p.name: value})
    assert str(exc.value) == message
    assert exc.value.field == p.name
    # CLI
    result = CliRunner().invoke(cli_app, ["predict", "-m", QWEN["model"], "--hardware", QWEN["hardware"],
                                          p.flag, str(value)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {message}"
    # API
    r = TestClient(create_app()).get("/api/predict", params={**QWEN, p.name: value})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == message
    assert r.json()["error"]["details"]["field"] == p.name


def test_economics_bounds_one_message() -> None:
    p = P.ECONOMICS.get("pue")
    message = p.message(0.5)
    result = CliRunner().invoke(cli_app, ["lease", "--server", "h20", "--pue", "0.5"])
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {message}"
    with pytest.raises(InvalidInput, match="^--pue must be a finite number between 1 and 5, got 0.5$"):
        P.econ_overrides({"pue": 0.5})
    r = TestClient(create_app()).get("/api/lease", params={"server": "h20", "pue": 0.5})
    assert r.status_code == 422 and r.json()["error"]["message"] == message


def test_market_filters_agree() -> None:
    from suanli.market.schema import CHANNELS
    assert P.CHANNEL.canonical == CHANNELS
    group = typer.main.get_command(cli_app)
    market = group.get_command(click.Context(group), "market")  # type: ignore[attr-defined]
    quotes = market.get_command(click.Context(market), "quotes")
    opts = {p.name: p for p in quotes.params}
    spec = create_app().openapi()
    query = {q["name"]: q for q in spec["paths"]["/api/market/quotes"]["get"]["parameters"]}
    for p in P.MARKET:
        assert tuple(opts[p.name].opts) == p.cli_flags and opts[p.name].help == p.description
        assert opts[p.name].default is None and query[p.name].get("description") == p.description
    assert _schema_bounds(query["channel"]["schema"]) == {"enum": list(CHANNELS)}


def test_declarations_are_consistent() -> None:
    names = [p.name for p in P.ALL]
    assert len(names) == len(set(names))
    for p in P.ALL:
        assert p.help and p.type in (int, float, str, bool)
        assert p.default is None or not p.violates(p.default), p.name
        if p.ge is not None or p.gt is not None:
            assert not (p.ge is not None and p.gt is not None)
        assert not p.violates(None)
    assert P.TP.violates(math.nan) and P.ISL.violates(math.inf) and P.TP.violates(2.5)
