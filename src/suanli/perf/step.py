"""Time of one engine step (one forward pass over a mixed batch), per op.

A step processes ``n_dec`` decoding sequences (one new token each, attending
to ``ctx_dec`` tokens) and ``n_pf`` prefill tokens (attending on average to
``ctx_pf`` tokens, e.g. isl/2 for a causal prompt processed from scratch), of
which ``n_pf_seqs`` sequences finish their prompt and need logits.  Counts
are per model instance and may be numpy arrays (vectorised evaluation).

Each op's time is the roofline ``max(FLOPs / (peak x compute_eff),
bytes / (bandwidth x memory_eff))`` computed per op, so a step mixing a
compute-bound op with a memory-bound one is not credited with perfect
overlap.  Collectives use ``perf.comm``.  With pipeline parallelism the batch
is split into ``pp`` micro-batches; one decode *cycle* (the time between two
tokens of a sequence) is the sum over all layers at micro-batch size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from suanli.perf import comm
from suanli.perf.efficiency import Efficiency
from suanli.perf.hardware import HwParams
from suanli.perf.layout import Layout, layout_of
from suanli.perf.memory import kv_bytes_per_token_layer
from suanli.specs.deployment import Deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec

ACT_BYTES = DType.BF16.bytes  # activations travel in 16-bit
# Full passes over the hidden state per layer outside the GEMMs: 2 RMSNorms
# (read+write), 2 residual adds, RoPE, SiLU-gate -- ~12 reads/writes of h.
ELEMENTWISE_PASSES = 12

# Query rows per FlashAttention tile: K/V are streamed once per tile, so prefill
# attention moves ~ctx/128 x KV bytes per query token (Dao et al. 2022,
# "FlashAttention", IO complexity; FA2 uses Br = 128 on Hopper/Ampere).
FLASH_TILE_Q = 128

OPS = ("attn_proj", "attn_core", "mlp", "moe_shared", "moe_experts", "lm_head", "elementwise",
       "tp_comm", "ep_comm", "pp_comm", "overhead")


@dataclass(frozen=True, kw_only=True)
class StepLoad:
    n_dec: Any = 0.0          # decoding sequences in the step (per instance)
    ctx_dec: float = 0.0      # mean context of decoding sequences (tokens)
    n_pf: Any = 0.0           # prefill tokens in the step (per instance)
    ctx_pf: float = 0.0       # mean context a prefill token attends to
    n_pf_seqs: Any = 0.0      # prompts finished in this step (need logits)


def _roof(flops: Any, nbytes: Any, peak: float, bw: float, eff: Efficiency) -> Any:
    return np.maximum(flops / (peak * eff.compute), nbytes / (bw * eff.memory))


def _attn_core_flops_per_token(model: ModelSpec, ctx: Any, *, absorbed: bool) -> Any:
    """Score + value FLOPs per query token over ``ctx`` keys (whole model width, one layer).

    MLA decode runs "absorbed" (attention over the 512+64-wide latent for all
    heads, DeepSeek-V2 paper sec. 2.1.3); MLA prefill runs on decompressed
    per-head keys/values."""
    nh = model.num_heads
    if model.attention == "mla":
        if absorbed:
            return 2 * nh * ctx * ((model.kv_lora_rank + model.qk_rope_head_dim) + model.kv_lora_rank)
        return 2 * nh * ctx * ((model.qk_nope_head_dim + model.qk_rope_head_dim) + model.v_head_dim)
    return 2 * nh * ctx * 2 * model.head_dim


def step_breakdown(model: ModelSpec, dep: Deployment | Layout, hw: HwParams, eff: Efficiency,
                   load: StepLoad) -> dict[str, Any]:
    """Seconds per op for one decode cycle / step of ``load`` on one instance.

    ``dep`` may be a Deployment or a Layout of many deployments (then every
    value is an array broadcast against the load's arrays)."""
    lay = dep if isinstance(dep, Layout) else layout_of(model, dep, hw.peak_gemm, hw.peak_attn)
    if lay.peak_lin is None:
        raise ValueError("layout has no compute peaks; build it with peaks (see perf.layout.layouts)")
    pp = lay.pp
    n_dec = np.asarray(load.n_dec, dtype=float) / pp
    n_pf = np.asarray(load.n_pf, dtype=float) / pp
    n_pf_seqs = np.asarray(load.n_pf_seqs, dtype=float) / pp
    tokens = n_dec + n_pf                      # per micro-batch, whole instance
    attn_dp, attn_tp, group = lay.attn_dp, lay.attn_tp, lay.moe_group
    ta = tokens / attn_dp                      # tokens one attention rank sees
    h = model.hidden_size
    L = model.num_layers
    bw = hw.mem_bw
    zero = 0.0 * tokens * pp
    out: dict[str, Any] = {}

    # attention projections (q/kv down/up, o)
    rep = model.attn_replicated_params_per_layer      # MLA down-projections: whole on every rank
    p_attn = rep + (model.attn_params_per_layer - rep) / attn_tp
    out["attn_proj"] = L * _roof(2 * ta * p_attn, p_attn * lay.lin_bytes + 2 * ta * h * ACT_BYTES,
                                 lay.peak_lin, bw, eff)

    # attention core: decode reads the KV cache, prefill is quadratic compute
    kv_tok = kv_bytes_per_token_layer(model, lay)
    window = model.sliding_window or 0
    core = zero
    for layers, cap in ((model.num_full_attention_layers, None), (model.num_sliding_layers, window)):
        if not layers:
            continue
        cd = load.ctx_dec if cap is None else np.minimum(load.ctx_dec, cap)
        cp = load.ctx_pf if cap is None else np.minimum(load.ctx_pf, cap)
        dec = _roof(_attn_core_flops_per_token(model, cd, absorbed=True) * n_dec / attn_dp / attn_tp,
                    n_dec / attn_dp * cd * kv_tok, hw.peak_attn, bw, eff)
        # flash attention re-reads K/V once per query tile, not once per query token
        pf = _roof(_attn_core_flops_per_token(model, cp, absorbed=False) * n_pf / attn_dp / attn_tp,
                   n_pf / attn_dp * (1 + cp / FLASH_TILE_Q) * kv_tok, hw.peak_attn, bw, eff)
        core = core + layers * (dec + pf)
    out["attn_core"] = core

    # dense MLP layers
    dense_layers = model.num_dense_layers if model.is_moe else L
    p_mlp = model.dense_mlp_params
    out["mlp"] = dense_layers * _roof(2 * tokens * p_mlp / group, p_mlp * lay.lin_bytes / group
                                      + 3 * tokens * h * ACT_BYTES / group, lay.peak_lin, bw, eff) if p_mlp else zero

    # MoE: shared experts (dense-like) and routed experts (only touched experts are read)
    if model.is_moe:
        moe_layers = model.num_moe_layers
        p_sh = model.shared_expert_params
        out["moe_shared"] = moe_layers * _roof(2 * tokens * p_sh / group, p_sh * lay.lin_bytes / group
                                               + 3 * tokens * h * ACT_BYTES / group, lay.peak_lin, bw, eff) \
            if p_sh else zero
        k, E = model.experts_per_token, model.num_experts
        touched = 1.0 - np.power(1.0 - k / E, tokens)      # expected share of experts hit by the batch
        exp_bytes = E * model.expert_params * lay.exp_bytes / group
        # experts whose GEMMs this accelerator runs: its E/ep own experts under EP,
        # a 1/tp slice of every touched expert under TP sharding
        local_experts = touched * E / np.where(lay.ep > 1, lay.ep, 1.0)
        out["moe_experts"] = moe_layers * (_roof(2 * tokens * k * model.expert_params / group,
                                                 touched * exp_bytes + 2 * tokens * k * h * ACT_BYTES / group,
                                                 lay.peak_exp, bw, eff)
                                           + local_experts * eff.expert_overhead_s)
    else:
        out["moe_shared"] = out["moe_experts"] = zero

    # LM head (vocab-parallel over attention TP, 16-bit) for the sequences that emit a token;
    # each attention-DP rank computes its own sequences' logits; once per micro-batch
    logits_tokens = n_dec + n_pf_seqs
    out["lm_head"] = pp * _roof(2 * logits_tokens / attn_dp * h * model.vocab_size / attn_tp,
                                h * model.vocab_size * DType.BF16.bytes / attn_tp, hw.peak_attn, bw, eff)

    out["elementwise"] = L * _roof(0.0, ELEMENTWISE_PASSES * ta * h * ACT_BYTES, hw.peak_attn, bw, eff)

    # collectives
    kw = dict(link_bw=hw.link_bw, scaleout_bw=hw.scaleout_bw, node_size=hw.node_size,
              latency=hw.link_latency_s, scaleout_latency=hw.scaleout_latency_s, eff=eff.comm)
    tp_comm = L * comm.allreduce_time(ta * h * ACT_BYTES, attn_tp, **kw)
    no_ep = lay.ep <= 1
    mlp_layers_tp = dense_layers + (model.num_moe_layers * no_ep if model.is_moe else 0)
    # MLP/MoE output all-reduce; under attention-DP the equivalent all-gather + reduce-scatter
    # of every rank's tokens moves the same volume
    out["tp_comm"] = tp_comm + mlp_layers_tp * comm.allreduce_time(tokens * h * ACT_BYTES, group, **kw)
    if model.is_moe:
        per_rank = tokens / group * model.experts_per_token * h * ACT_BYTES
        ep_t = model.num_moe_layers * 2 * comm.alltoall_time(per_rank, group, **kw)
        out["ep_comm"] = np.where(no_ep, 0.0, ep_t)
    else:
        out["ep_comm"] = zero
    stage_gpus = lay.instance_gpus / pp
    crosses = lay.instance_gpus > hw.node_size
    p2p_bw = np.where(crosses, min(hw.link_bw, hw.scaleout_bw), hw.link_bw)
    p2p_lat = hw.link_latency_s + np.where(crosses, hw.scaleout_latency_s, 0.0)
    # each micro-batch crosses pp stage boundaries per cycle; tensors are split over the stage's TP ranks
    pp_t = pp * comm.p2p_time(tokens * h * ACT_BYTES / stage_gpus, bw=p2p_bw, latency=p2p_lat, eff=eff.comm)
    out["pp_comm"] = np.where(pp > 1, pp_t, 0.0)

    out["overhead"] = (L * eff.layer_overhead_s + eff.step_overhead_s
                       + np.asarray(load.n_dec, dtype=float) * eff.seq_overhead_s + zero)
    # A PP cycle runs pp micro-batches through pp stages of L/pp layers: each op above is
    # every layer once at micro-batch size, which is the cycle time.
    return out


def step_time(model: ModelSpec, dep: Deployment, hw: HwParams, eff: Efficiency, load: StepLoad) -> Any:
    parts = step_breakdown(model, dep, hw, eff, load)
    total = 0.0
    for value in parts.values():
        total = total + value
    return total


def chunks(tokens: float, budget: int) -> int:
    """Engine steps needed to prefill ``tokens`` with a per-step token budget."""
    return max(1, math.ceil(tokens / max(1, budget)))
