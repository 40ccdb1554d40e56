"""``/api/train``: time, GPU-hours, memory fit, MFU and cost of training or fine-tuning
(a thin adapter over :func:`suanli.app.training.train_estimate`; mounted when it exists)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Query

from suanli.web import deps
from suanli.web.jsonutil import JSONResponse
from suanli.web.schemas import ERRORS

Count = Annotated[str, Query(min_length=1, max_length=20, pattern=r"^\s*[0-9.eE+-]+\s*[kKmMbBgGtT]?\s*$")]
Small = Annotated[int, Query(ge=1, le=deps.MAX_GPUS)]


def build_router() -> APIRouter | None:
    if deps.optional("suanli.app.training") is None:
        return None
    router = APIRouter(prefix="/api", tags=["training"])

    @router.get("/train", responses=ERRORS, summary="Training or fine-tuning estimate on D tokens")
    def api_train(
        hardware: Annotated[str, Query(min_length=1, max_length=100, description="Accelerator id or alias")],
        tokens: Annotated[Count, Query(description="Tokens to train on, all epochs: 2e12, 300B, 50M")],
        model: Annotated[Optional[str], Query(max_length=200, description="Bundled model id")] = None,
        params: Annotated[Optional[Count], Query(description="Parameter count instead of a model: 7e9, 7B")] = None,
        gpus: Small = 8, seq_len: Annotated[int, Query(ge=1, le=deps.MAX_TOKENS)] = 4096,
        global_batch: Optional[Annotated[int, Query(ge=1, le=1_000_000)]] = None,
        micro_batch: Annotated[int, Query(ge=1, le=65_536)] = 1, tp: Small = 1, pp: Small = 1, vpp: Small = 1,
        zero: Optional[Literal[0, 1, 2, 3]] = None, recompute: Optional[bool] = None,
        method: Literal["full", "lora", "qlora"] = "full", lora_rank: Annotated[int, Query(ge=1, le=65_536)] = 16,
        dtype: Literal["bf16", "fp16", "fp8"] = "bf16",
        system: Annotated[Optional[str], Query(max_length=100, description="Server system id")] = None,
        cost_per_gpu_hour: Optional[Annotated[float, Query(ge=0, le=1e6, allow_inf_nan=False)]] = None,
        currency: Literal["CNY", "USD"] = "USD",
    ) -> Any:
        """Same as ``suanli train``; a layout that does not fit answers 422 insufficient_memory."""
        from suanli.app.training import train_estimate

        cat = deps.catalog()
        est = train_estimate(deps.resolve_model(model) if model else None, cat.get(hardware), params=params,
                             gpus=gpus, tokens=tokens, seq_len=seq_len, global_batch=global_batch,
                             micro_batch=micro_batch, tp=tp, pp=pp, virtual_stages=vpp, zero=zero,
                             recompute=recompute, method=method, lora_rank=lora_rank, dtype=dtype, system=system,
                             cost_per_gpu_hour=cost_per_gpu_hour, currency=currency, catalog=cat)
        return JSONResponse(est.to_dict())

    return router
