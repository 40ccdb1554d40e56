"""Response shapes of the JSON API (OpenAPI documentation and conformance tests).

They mirror the ``to_dict()`` of the app-layer results; ``tests/test_web_api.py`` checks
that every key the app produces is declared here, so the two cannot drift apart
silently.  Units are in the field names (``*_ms``, ``*_gb``, ``tok_s``); a number that
is not finite in the model (e.g. a TPOT of one-token outputs) is ``null``.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

Num = Optional[float]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


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


class PredictionOut(_Out):
    hardware: str
    model: str
    engine: str
    gpus: int
    tp: int
    pp: int
    ep: int
    dp_attention: int
    replicas: int
    weight_dtype: str
    kv_dtype: str
    compute_dtype: str
    isl: float
    osl: float
    scenario: str
    concurrency: Num
    request_rate: Num
    num_requests: Optional[int] = Field(None, description="Requests the benchmark sends in total (burst TTFT)")
    ttft_ms: Num = Field(None, description="Mean TTFT; null when the load is saturated (no finite mean)")
    tpot_ms: Num
    output_tok_s_per_gpu: Num
    total_tok_s_per_gpu: Num
    input_tok_s_per_gpu: Num
    tok_s_per_user: Num
    batch_per_instance: Num
    saturated: bool = Field(False, description="Offered load exceeds the predicted capacity")
    capacity_req_s: Num = Field(None, description="Requests/s the deployment sustains at its batch limit")
    basis: str = Field("", description="How the dominant op's time was made: measured-kernels:<system>/<backend>, "
                                       "transferred:<system>, roofline-prior or roofline")
    kernel_basis: dict[str, str] = Field(default_factory=dict, description="Basis per op kind")
    layout_reason: str = Field("", description="Which layout suanli chose for blank TP/PP/EP/DP, and why")
    fits: bool
    weights_gb_per_gpu: Num
    kv_gb_per_gpu: Num
    max_concurrency: Num
    mode: str
    provenance: str
    band: list[Num] = Field(description="P10..P90 ratio band from the calibration residuals")
    bound: str
    system: str
    unverified_hardware: bool
    warnings: list[str]
    decode_breakdown_ms: dict[str, Num]
    prefill_breakdown_ms: dict[str, Num]
    model_source: str = Field("", description="where the model config came from: 'bundled', "
                              "'SUANLI_MODELS_PATH' or 'Hugging Face cache' (of the server)")
    profile: str = Field("", description=PROFILE_NOTE)
    calibration_profile: Optional[ProfileUsed] = None
    label: ChipLabel


class ChipRow(_Out):
    rank: Optional[int] = Field(None, description="1 = best feasible chip; null when infeasible")
    hardware: str
    name: str
    feasible: bool
    reason: str
    unverified: bool
    config: dict[str, Any]
    output_tok_s_per_gpu: Num = None
    tok_s_per_user: Num = None
    ttft_ms: Num = None
    tpot_ms: Num = None
    gpus_needed: Optional[int] = None
    servers_needed: Optional[int] = None
    closest: Optional[dict[str, Any]] = None
    mode: str
    band: list[Num]
    notes: list[str]
    profile: str = Field("", description=PROFILE_NOTE)
    label: ChipLabel
    economics: Optional[dict[str, Any]] = Field(None, description="money per token where economics is available")


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


class CompareOut(_Out):
    query: dict[str, Any] = Field(description="the normalised request (what the form shows)")
    model: str
    isl: float
    osl: float
    ttft_ms: Num
    tpot_ms: Num
    request_rate: Num
    engine: str
    metric: str = Field(description="what the ranking column shows: output_tok_s_per_gpu or cny_per_mtok")
    chips: list[ChipRow]
    frontiers: list[FrontierOut]
    economics_available: bool
    calibration_profile: Optional[ProfileUsed] = None


class ParetoOut(_Out):
    model: str
    isl: float
    osl: float
    frontiers: list[FrontierOut]
    calibration_profile: Optional[ProfileUsed] = None


class SimulationOut(_Out):
    hardware: str
    model: str
    gpus: int
    tp: int
    pp: int
    ep: int
    replicas: int
    weight_dtype: str
    kv_dtype: str
    engine: str
    arrival: str
    request_rate: Num
    requests: int
    seed: int
    summary: dict[str, Any]
    output_tok_s_per_gpu: Num
    total_tok_s_per_gpu: Num
    mode: str
    provenance: str
    warnings: list[str]
    unverified_hardware: bool
    profile: str = Field("", description=PROFILE_NOTE)
    calibration_profile: Optional[ProfileUsed] = None


class CaseOut(_Out):
    case_id: str
    source_group: str = Field("", description="Publication family the case was read from")
    hardware: str
    model: str
    engine: str
    scenario: str
    metric: str
    measured: Num
    predicted: Num
    ape: Num
    status: str
    reason: str
    line: int
    calibrated_on: Optional[list[str]] = Field(None, description="few-shot validation only: the case ids the "
                                               "profile predicting this case was fitted on")


class ValidationOut(_Out):
    source: str
    cases: list[CaseOut]
    summary: dict[str, Any]


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
