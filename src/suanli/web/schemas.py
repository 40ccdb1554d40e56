"""Response shapes of the JSON API (OpenAPI documentation and conformance tests).

The models of the app-layer result dataclasses (a prediction, a simulation, a validation
case) are derived from them (:func:`response_model`): a field added to the result shows in the
OpenAPI schema without an edit here.  The others mirror their ``to_dict()``;
``tests/test_web_api.py`` checks that every key the app produces is declared, so the two cannot
drift apart silently.  Units are in the field names (``*_ms``, ``*_gb``, ``tok_s``); a number that
is not finite in the model (e.g. a TPOT of one-token outputs) is ``null``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from suanli.app.compare import ChipResult, CompareResult, Frontier
from suanli.app.predict import Prediction
from suanli.app.simulate import SimulationReport
from suanli.app.validate import CaseResult, ValidationReport

Num = Optional[float]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# typing constructors applied at run time to types computed at run time (not type expressions)
_Optional: Any = Optional
_Union: Any = Union
_list: Any = list
_dict: Any = dict
_DERIVED: dict[type, Any] = {}   # result dataclass -> its response model, for nested results


def _json_type(tp: Any) -> Any:
    """The JSON shape of a result field's type: tuples are lists, every float may be null (a
    number that is not finite in the model), a nested result is its response model."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is float:
        return Num
    if tp in _DERIVED:
        return _DERIVED[tp]
    if origin in (Union, types.UnionType):
        inner = tuple(_json_type(a) for a in args if a is not type(None))
        return _Optional[_Union[inner]] if len(inner) > 1 else _Optional[inner[0]]
    if origin is tuple:
        items = tuple(dict.fromkeys(_json_type(a) for a in args if a is not Ellipsis))
        return _list[_Union[items]] if len(items) > 1 else _list[items[0]] if items else _list[Any]
    if origin is dict:
        return _dict[_json_type(args[0]), _json_type(args[1])]
    return tp


def response_model(result: type, name: str, *, exclude: tuple[str, ...] = (),
                   describe: dict[str, str] | None = None, **extra: Any) -> type[BaseModel]:
    """The response model of the app-layer result dataclass ``result``: its fields with their
    types (as JSON carries them) and defaults, ``describe`` adding descriptions, ``extra``
    adding fields the route sets (``name=(type, default or FieldInfo)``)."""
    hints = typing.get_type_hints(result)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(result):
        if f.name in exclude:
            continue
        desc = (describe or {}).get(f.name)
        if f.default_factory is not dataclasses.MISSING:
            info = Field(default_factory=f.default_factory, description=desc)
        else:
            default = f.default if f.default is not dataclasses.MISSING else ...
            info = Field(list(default) if isinstance(default, tuple) else default, description=desc)
        fields[f.name] = (_json_type(hints[f.name]), info)
    model = create_model(name, __base__=_Out, __doc__=result.__doc__, **fields, **extra)
    _DERIVED[result] = model
    return model


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable error code, e.g. invalid_input, unknown_hardware")
    message: str = Field(description="one line for a person")
    details: dict[str, Any] = Field(description="'field' names the offending input; validation errors list all")


class ErrorEnvelope(BaseModel):
    error: ErrorBody


PROFILE_NOTE = ("the calibration profile's note for this chip and engine: 'calibrated on N of your runs (profile "
                "NAME); correction for ...' or 'profile NAME has no runs for ...: uncalibrated'; '' without a profile")


class ProfileUsed(_Out):
    """The stored calibration profile a result used (``?profile=NAME``)."""

    name: str
    created: str = Field(description="the day it was fitted")
    runs: int = Field(description="observations (your runs' metrics) it was fitted on")
    digest: str = Field(description="version of the stored document (changes when the profile is refitted)")
    covers: list[str] = Field(description="chip x engine runtime pairs it corrects")


class ChipLabel(_Out):
    id: str
    name: str
    vendor: str
    name_zh: Optional[str] = Field(None, description="Chinese name where the data has one (with its source)")
    name_zh_source: Optional[str] = None
    unverified: bool
    status: str


PredictionOut = response_model(
    Prediction, "PredictionOut", label=(ChipLabel, ...),
    calibration_profile=(Optional[ProfileUsed], None),
    describe={
        "num_requests": "Requests the benchmark sends in total (burst TTFT)",
        "ttft_ms": "Mean TTFT; null when the load is saturated (no finite mean)",
        "saturated": "Offered load exceeds the predicted capacity",
        "capacity_req_s": "Requests/s the deployment sustains at its batch limit",
        "basis": "How the dominant op's time was made: measured-kernels:<system>/<backend>, transferred:<system>, "
                 "roofline-prior or roofline",
        "kernel_basis": "Basis per op kind",
        "layout_reason": "Which layout suanli chose for blank TP/PP/EP/DP, and why",
        "band": "P10..P90 ratio band from the calibration residuals",
        "model_source": "where the model config came from: 'bundled', 'SUANLI_MODELS_PATH' or 'Hugging Face cache' "
                        "(of the server)",
        "profile": PROFILE_NOTE,
    })


class FrontierPoint(_Out):
    tok_s_per_user: Num
    output_tok_s_per_gpu: Num
    ttft_s: Num
    tpot_s: Num
    gpus: int
    batch: Num
    description: str


class FrontierOut(_Out):
    hardware: str
    unverified: bool
    error: str
    points: list[FrontierPoint]
    label: Optional[ChipLabel] = None
    profile: str = Field("", description=PROFILE_NOTE)


ChipRow = response_model(
    ChipResult, "ChipRow", describe={"profile": PROFILE_NOTE},
    rank=(Optional[int], Field(None, description="1 = best feasible chip; null when infeasible")),
    label=(ChipLabel, ...),
    economics=(Optional[dict[str, Any]], Field(None, description="money per token where economics is available")))
_DERIVED[Frontier] = FrontierOut   # points typed by hand (FrontierPoint), the rest as the dataclass

CompareOut = response_model(
    CompareResult, "CompareOut",
    query=(dict[str, Any], Field(description="the normalised request (what the form shows)")),
    metric=(str, Field(description="what the ranking column shows: output_tok_s_per_gpu or cny_per_mtok")),
    economics_available=(bool, ...),
    calibration_profile=(Optional[ProfileUsed], None))


class ParetoOut(_Out):
    model: str
    isl: float
    osl: float
    frontiers: list[FrontierOut]
    calibration_profile: Optional[ProfileUsed] = None


SimulationOut = response_model(SimulationReport, "SimulationOut", exclude=("result",),
                               describe={"profile": PROFILE_NOTE},
                               calibration_profile=(Optional[ProfileUsed], None))
CaseOut = response_model(CaseResult, "CaseOut",
                         describe={"source_group": "Publication family the case was read from",
                                   "calibrated_on": "few-shot validation only: the case ids the profile predicting "
                                                    "this case was fitted on"})


ValidationOut = response_model(ValidationReport, "ValidationOut", source=(str, ...))


class AcceleratorOut(_Out):
    id: str
    vendor: str
    name: str
    family: str
    status: str
    memory_gb: Num = None
    mem_bw_gbs: Num = None
    bf16_tflops: Num = None
    fp8_tflops: Num = None
    china_export_status: str
    china_buyable: bool
    source_urls: list[str]
    assumed: dict[str, str]
    unverified: bool
    flags: list[str]
    name_zh: Optional[str] = None
    name_zh_source: Optional[str] = None


class ChipPage(_Out):
    chip: AcceleratorOut
    systems: list[dict[str, Any]]
    timeline: list[dict[str, Any]] = Field(description="export-status and market events for this chip, dated")
    prices: list[dict[str, Any]] = Field(description="dated price quotes where market data is available")
    price_index: Optional[dict[str, Any]] = Field(None, description="weekly per-GPU price index by channel")
    market_chip: Optional[str] = Field(None, description="the chip's name in the market data")
    market_available: bool
    availability: Optional[dict[str, Any]] = Field(None, description="availability timeline in China (dated, sourced "
                                                   "events) and the state today")


class ModelOut(_Out):
    id: str
    model_type: str
    params_total_b: float
    params_active_b: float


class DealerOut(_Out):
    inputs: dict[str, Any]
    scenarios: list[dict[str, Any]]
    currency: str
    plan: dict[str, Any]


class Health(BaseModel):
    status: str
    version: str
    features: dict[str, bool]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": text} for code, text in (
        (400, "malformed request or file"), (404, "unknown id in the path"),
        (413, "request body over the upload limit"),
        (422, "invalid value; details.field names it"))}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = ERRORS | {
    401: {"model": ErrorEnvelope, "description": "no API token"},
    403: {"model": ErrorEnvelope, "description": "wrong API token, or writes disabled"}}
