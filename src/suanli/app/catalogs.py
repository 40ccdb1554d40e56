"""Catalog views that need the performance core (memory sizes of a model)."""

from __future__ import annotations

from typing import Any

from suanli.perf.hardware import precision_for
from suanli.perf.layout import layout_of
from suanli.errors import SuanliError
from suanli.perf.memory import kv_bytes_per_sequence, state_bytes_per_sequence, weights_per_gpu
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
        "kv_elements_per_token": spec.kv_elements_per_token_per_layer * (spec.num_layers - spec.num_linear_layers),
        # one sequence of one token on one accelerator: bytes a token adds to the KV cache
        # (a linear-attention layer's constant state is reported on its own)
        "kv_bytes_per_token_bf16": float(kv_bytes_per_sequence(spec, one, 1) - state_bytes_per_sequence(spec, one)),
        "kv_bytes_per_token_fp8": float(kv_bytes_per_sequence(spec, one_fp8, 1)
                                        - state_bytes_per_sequence(spec, one_fp8)),
        "weights_gb_native": round(float(weights_per_gpu(spec, one).total) / 1e9, 3),
        "family": spec.family,
        "config_source": spec.origin,
        "layer_plan": plan_lines(spec.layer_plan()),
    }
    if spec.num_linear_layers:
        extra.update(linear_attention_layers=spec.num_linear_layers,
                     state_bytes_per_sequence=float(state_bytes_per_sequence(spec, one)))
    if spec.num_sliding_layers:
        extra["local_attention"] = spec.local_attention
    if spec.index_topk:
        extra.update(index_topk=spec.index_topk, index_heads=spec.index_heads, index_head_dim=spec.index_head_dim)
    if spec.attention == "mla":
        extra.update(kv_lora_rank=spec.kv_lora_rank, qk_rope_head_dim=spec.qk_rope_head_dim)
    return extra


_ATTN_TEXT = {"full": "full attention", "sliding": "sliding-window attention", "chunked": "chunked local attention",
              "linear": "linear attention (Gated DeltaNet)"}


def _kind_text(run: dict[str, Any]) -> str:
    return f"{_ATTN_TEXT.get(run['attention'], run['attention'])} + {run['mlp']} MLP"


def plan_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Layer-plan runs as text; a pattern of runs repeated to the end (Qwen3-Next's 3 linear
    + 1 full attention layers, gpt-oss's alternation) is written once with its count."""
    def key(r: dict[str, Any]) -> tuple[str, str, int]:
        return r["attention"], r["mlp"], r["last"] - r["first"] + 1
    lines: list[str] = []
    i = 0
    while i < len(runs):
        rest = runs[i:]
        best = None
        for period in range(1, len(rest) // 2 + 1):
            reps = len(rest) // period
            if reps >= 2 and len(rest) % period == 0 and all(key(rest[j]) == key(rest[j % period])
                                                             for j in range(len(rest))):
                best = period
                break
        if best and best < len(rest):
            unit = ", ".join(f"{key(r)[2]} x {_kind_text(r)}" for r in rest[:best])
            lines.append(f"layers {rest[0]['first']}-{rest[-1]['last']}: {len(rest) // best} x ({unit})")
            break
        r = runs[i]
        where = f"layer {r['first']}" if r["first"] == r["last"] else f"layers {r['first']}-{r['last']}"
        lines.append(f"{where}: {_kind_text(r)}")
        i += 1
    return lines


def model_rows(env: Any = None) -> list[dict[str, Any]]:
    """One row per model suanli can find: the bundled configs, then those in
    ``SUANLI_MODELS_PATH`` and the local Hugging Face cache.  Each row is the model's
    summary plus family, KV bytes per token (BF16 / FP8) and config source; a local config
    that cannot be read carries its error instead."""
    from suanli.specs.model import bundled_model_ids, load_config_file, load_model
    from suanli.specs.model_files import local_configs

    rows: list[dict[str, Any]] = []
    bundled = set()
    for mid in bundled_model_ids():
        bundled.add(mid.lower())
        rows.append(_row(load_model(mid)))
    for found in local_configs(env):
        if found.model_id.lower() in bundled:
            continue
        try:
            rows.append(_row(load_config_file(found.path, model_id=found.model_id, origin=found.origin)))
        except SuanliError as exc:
            rows.append({"id": found.model_id, "config_source": found.origin, "error": str(exc)})
    return rows


def _row(spec: ModelSpec) -> dict[str, Any]:
    d = model_details(spec)
    return {**spec.summary(), "family": spec.family, "kv_bytes_per_token_bf16": d["kv_bytes_per_token_bf16"],
            "kv_bytes_per_token_fp8": d["kv_bytes_per_token_fp8"], "config_source": spec.origin}
