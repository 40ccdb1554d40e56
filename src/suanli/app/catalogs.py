"""Catalog views that need the performance core (memory sizes of a model)."""

from __future__ import annotations

from typing import Any

from suanli.perf.hardware import precision_for
from suanli.perf.layout import layout_of
from suanli.perf.memory import kv_bytes_per_sequence, weights_per_gpu
from suanli.specs.deployment import Deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec


def model_details(spec: ModelSpec) -> dict[str, Any]:
    """Structural numbers of a model plus its memory footprint on one accelerator."""
    native = DType.parse(spec.native_weight_dtype)
    one = layout_of(Deployment(gpus=1), precision_for(spec, None, native, DType.BF16)[0])
    one_fp8 = layout_of(Deployment(gpus=1), precision_for(spec, None, native, DType.FP8)[0])
    extra: dict[str, Any] = {
        "vocab_size": spec.vocab_size, "intermediate_size": spec.intermediate_size,
        "moe_intermediate_size": spec.moe_intermediate_size, "shared_experts": spec.num_shared_experts,
        "dense_layers": spec.num_dense_layers if spec.is_moe else spec.num_layers,
        "sliding_window": spec.sliding_window, "sliding_layers": spec.num_sliding_layers,
        "max_position_embeddings": spec.max_position_embeddings,
        "params_expert_total_b": round(spec.params_expert_total / 1e9, 3),
        "params_active_note": "active parameters exclude the input embedding (a lookup, not a matmul)",
        "kv_elements_per_token_per_layer": spec.kv_elements_per_token_per_layer,
        "kv_elements_per_token": spec.kv_elements_per_token_per_layer * spec.num_layers,
        # one sequence of one token on one accelerator: bytes a token adds to the KV cache
        "kv_bytes_per_token_bf16": float(kv_bytes_per_sequence(spec, one, 1)),
        "kv_bytes_per_token_fp8": float(kv_bytes_per_sequence(spec, one_fp8, 1)),
        "weights_gb_native": round(float(weights_per_gpu(spec, one).total) / 1e9, 3),
    }
    if spec.attention == "mla":
        extra.update(kv_lora_rank=spec.kv_lora_rank, qk_rope_head_dim=spec.qk_rope_head_dim)
    return extra
