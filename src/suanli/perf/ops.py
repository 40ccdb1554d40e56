"""One op table per (model, layout, step load): what every op of one engine step
(or one training micro-batch) computes, reads, writes and communicates.

A step of a serving engine processes, per model instance, ``n_dec`` decoding
sequences (one token each, attending to ``ctx_dec`` cached tokens) and
``n_pf`` prompt tokens belonging to ``pf_seqs`` prompts (each a chunk of
``n_pf / pf_seqs`` tokens after ``pf_prefix`` already cached tokens), of which
``logits`` sequences need a next-token distribution.  Counts may be numpy
arrays; they broadcast against the :class:`~suanli.perf.layout.Layout` arrays,
so one table describes many deployments x loads at once.

Every :class:`Op` is per accelerator and per occurrence; ``count`` says how
often it runs in one step (usually a layer count).  Ops are described by their
*kind* and the shape arguments of that kind's kernel; FLOPs and bytes are kept
for the breakdown, roofline mode and training accounting.  Time per op kind is
``perf.opcost``'s business.

Conventions: GEMM ``C[m, n] = A[m, k] @ B[k, n]`` with ``B`` the weight;
activations travel in 16 bit; a batched per-head matmul (MLA's absorbed
projections) is written as one GEMM with the heads folded into ``n``, which
keeps its FLOPs and weight bytes.  Pipeline parallelism: the batch is split
into ``pp`` micro-batches; one decode cycle runs every layer once at
micro-batch size, and the last stage computes logits for all ``pp``
micro-batches.

Sources: MLA absorbed decode and non-absorbed prefill (DeepSeek-V2 paper,
arXiv:2405.04434, sec. 2.1.3); DP attention with TP/EP MoE (SGLang
``--enable-dp-attention``: attention data-parallel, MLP/MoE over the whole
group, all-gather before and reduce-scatter after); expert-parallel
dispatch/combine sends a token once per destination rank (DeepEP README,
github.com/deepseek-ai/DeepEP, "normal"/"low-latency" kernels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from suanli.perf.layout import Layout, Precision
from suanli.specs.model import ModelSpec

ACT_BYTES = 2.0   # activations in 16 bit

KINDS = ("gemm", "moe", "attn_prefill", "attn_decode", "mla_prefill", "mla_decode", "linear_attn", "indexer",
         "elementwise", "allreduce", "allgather", "alltoall", "p2p", "kv_transfer")

# Full passes over the hidden state per layer outside the kernels with tables:
# 2 RMSNorms (read + write), 2 residual adds, RoPE, activation quantisation --
# ~10 reads/writes of ``h``.  Their *time* at small batch is kernel latency,
# which the engine runtime's per-layer cost covers (perf.runtime).
ELEMENTWISE_PASSES = 10


@dataclass(frozen=True, kw_only=True)
class StepLoad:
    """Work of one engine step on one model instance (all counts per instance)."""

    n_dec: Any = 0.0        # decoding sequences
    ctx_dec: Any = 0.0      # mean cached context of a decoding sequence (tokens)
    n_pf: Any = 0.0         # prompt tokens prefilled in this step
    pf_seqs: Any = 0.0      # prompts those tokens belong to
    pf_prefix: Any = 0.0    # mean tokens of a prompt already cached before this chunk
    logits: Any = None      # sequences needing logits (default: decodes + prompts)


@dataclass(frozen=True, kw_only=True)
class Op:
    """One op, per accelerator and per occurrence (``count`` occurrences per step)."""

    name: str
    kind: str
    count: Any
    flops: Any
    bytes_read: Any
    bytes_written: Any
    comm_bytes: Any = 0.0
    group: Any = 1.0
    dtype: str = "bf16"
    shape: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpTable:
    """The ops of one step.  :meth:`columns` gives the numpy column view."""

    ops: tuple[Op, ...]

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.ops)

    def columns(self) -> dict[str, np.ndarray]:
        """Columns (op name, kind, count, FLOPs, bytes read/written, comm bytes,
        group) stacked along the first axis; numeric columns broadcast to the
        load's shape."""
        shape = np.broadcast_shapes(*(np.shape(getattr(o, f)) for o in self.ops
                                      for f in ("count", "flops", "bytes_read", "bytes_written", "comm_bytes", "group")))

        def stack(f: str) -> np.ndarray:
            return np.stack([np.broadcast_to(np.asarray(getattr(o, f), dtype=float), shape) for o in self.ops])
        return {"name": np.array(self.names, dtype=object), "kind": np.array([o.kind for o in self.ops], dtype=object),
                "dtype": np.array([o.dtype for o in self.ops], dtype=object),
                **{f: stack(f) for f in ("count", "flops", "bytes_read", "bytes_written", "comm_bytes", "group")}}

    def total(self, field_name: str) -> Any:
        """``sum(count x field)`` over ops (e.g. FLOPs of the whole step per GPU)."""
        out: Any = 0.0
        for o in self.ops:
            out = out + np.asarray(o.count, dtype=float) * getattr(o, field_name)
        return out


# ----------------------------------------------------------------------------- builders

def _gemm(name: str, count: Any, m: Any, n: Any, k: Any, *, wbytes: Any, dtype: str) -> Op:
    m = np.asarray(m, dtype=float)
    return Op(name=name, kind="gemm", count=count, flops=2.0 * m * n * k,
              bytes_read=k * n * wbytes + m * k * ACT_BYTES, bytes_written=m * n * ACT_BYTES, dtype=dtype,
              shape={"m": m, "n": n, "k": k})


def _collective(name: str, kind: str, count: Any, nbytes: Any, group: Any) -> Op:
    return Op(name=name, kind=kind, count=count, flops=0.0, bytes_read=0.0, bytes_written=0.0,
              comm_bytes=nbytes, group=group, shape={"nbytes": nbytes, "n": group})


def distinct_ranks(group: Any, topk: float) -> Any:
    """Expected number of distinct EP ranks a token's ``topk`` experts live on
    (uniform routing): ``G (1 - (1 - 1/G)^k)``; a token is sent once per rank."""
    g = np.maximum(np.asarray(group, dtype=float), 1.0)
    return g * (1.0 - np.power(1.0 - 1.0 / g, topk))


def _windowed(pf_seqs: Any, chunk: Any, prefix: Any, cap: float) -> tuple[Any, Any, Any]:
    """A prompt chunk whose queries see at most ``cap`` keys, as ``ceil(chunk / cap)``
    prompts of one window each: (prompts, tokens each, cached prefix each)."""
    pieces = np.maximum(1.0, np.ceil(chunk / max(cap, 1.0)))
    return pf_seqs * pieces, np.minimum(chunk, cap), np.minimum(prefix, cap)


# Gated DeltaNet prefill runs chunkwise (flash-linear-attention's chunked delta rule, chunk
# 64 tokens): within a chunk an attention-like product, across chunks the state.
LINEAR_CHUNK = 64.0


def _linear_attn_ops(model: ModelSpec, ta: Any, nd_r: Any, pf_r: Any, npf_r: Any, attn_tp: Any,
                     lt: str, lb: float) -> list[Op]:
    """Gated DeltaNet layers (Qwen3-Next; arXiv:2412.06464): input projections (q, k, v,
    output gate z, beta, alpha), a short causal conv, the delta-rule recurrence over a
    constant ``v_heads x k_dim x v_dim`` state per sequence, and the output projection.
    Heads split over the attention TP ranks.  Decode reads and writes each sequence's state
    once per layer; prefill updates it once per 64-token chunk and does an intra-chunk
    attention-like product.  No measured kernel table: costed as a roofline prior."""
    h, Ln = model.hidden_size, model.num_linear_layers
    ranks = np.minimum(attn_tp, max(model.linear_v_heads, 1))
    kd = model.linear_k_heads * model.linear_k_dim / ranks
    vd = model.linear_v_heads * model.linear_v_dim / ranks
    hv = model.linear_v_heads / ranks
    state = hv * model.linear_k_dim * model.linear_v_dim                 # elements per sequence
    conv = (2.0 * kd + vd) * max(0, model.linear_conv_kernel - 1)
    s_bytes = (state + conv) * ACT_BYTES
    io = (2.0 * kd + 2.0 * vd) * ACT_BYTES                                # q, k, v in; o out, per token
    # per token and head: decay + k^T S + rank-1 update + q^T S over a dk x dv state ~ 8 dk dv
    rec = 8.0 * model.linear_k_dim * model.linear_v_dim
    intra = 2.0 * LINEAR_CHUNK * (model.linear_k_dim + model.linear_v_dim)   # in-chunk q k^T and (.) v
    chunks = np.ceil(np.where(pf_r > 0, npf_r / np.maximum(pf_r, 1e-30), 0.0) / LINEAR_CHUNK)
    shape = {"state": state}
    return [
        _gemm("linear_in_proj", Ln, ta, 2.0 * kd + 2.0 * vd + 2.0 * hv, h, wbytes=lb, dtype=lt),
        _gemm("linear_out_proj", Ln, ta, h, vd, wbytes=lb, dtype=lt),
        Op(name="linear_attn_decode", kind="linear_attn", count=Ln, flops=nd_r * hv * rec,
           bytes_read=nd_r * (s_bytes + io), bytes_written=nd_r * s_bytes, dtype="bf16", shape=shape),
        Op(name="linear_attn_prefill", kind="linear_attn", count=Ln, flops=npf_r * hv * (rec + intra),
           bytes_read=pf_r * chunks * s_bytes + npf_r * io, bytes_written=pf_r * s_bytes, dtype="bf16",
           shape=shape),
    ]


def _indexer_ops(model: ModelSpec, L: int, ta: Any, nd_r: Any, pf_r: Any, chunk: Any, prefix: Any,
                 ctx_dec: Any, q_in: int, lt: str, lb: float) -> list[Op]:
    """DSA lightning indexer (DeepSeek-V3.2, arXiv:2512.02556 sec. 2): index queries from
    the query latent, one index key and per-head weights from the hidden state (weights
    replicated on every rank), then an FP8 score of every cached token per query --
    ``index_heads x index_head_dim`` multiply-adds per (query, key) pair, reading
    ``index_head_dim + 4`` bytes per cached token.  No measured table: roofline prior."""
    hi, di, h = model.index_heads, model.index_head_dim, model.hidden_size
    key_b = di + 4.0
    return [
        _gemm("attn_indexer_q", L, ta, hi * di, q_in, wbytes=lb, dtype=lt),
        _gemm("attn_indexer_k", L, ta, di + hi, h, wbytes=lb, dtype=lt),
        Op(name="attn_indexer_decode", kind="indexer", count=L, flops=2.0 * nd_r * hi * di * ctx_dec,
           bytes_read=nd_r * ctx_dec * key_b, bytes_written=nd_r * ctx_dec * 4.0, dtype="fp8",
           shape={"ctx": ctx_dec}),
        Op(name="attn_indexer_prefill", kind="indexer", count=L,
           flops=2.0 * pf_r * hi * di * chunk * (chunk / 2.0 + prefix),
           bytes_read=pf_r * (chunk + prefix) * key_b, bytes_written=pf_r * chunk * 4.0, dtype="fp8",
           shape={"ctx": chunk + prefix}),
    ]


def step_ops(model: ModelSpec, lay: Layout, load: StepLoad, prec: Precision) -> OpTable:
    """The op table of one serving step (see module docstring)."""
    pp = lay.pp
    attn_dp, attn_tp, group = lay.attn_dp, lay.attn_tp, lay.moe_group
    n_dec = np.asarray(load.n_dec, dtype=float) / pp
    n_pf = np.asarray(load.n_pf, dtype=float) / pp
    pf_seqs = np.asarray(load.pf_seqs, dtype=float) / pp
    logits = (n_dec + pf_seqs) if load.logits is None else np.asarray(load.logits, dtype=float) / pp
    tokens = n_dec + n_pf                         # per micro-batch, whole instance
    chunk = np.where(pf_seqs > 0, n_pf / np.maximum(pf_seqs, 1e-30), 0.0)
    # The busiest attention rank sets the pace (DP ranks meet at every MoE layer): decodes
    # spread evenly, but a rank that prefills holds whole prompts, at least one.
    nd_r = n_dec / attn_dp
    pf_r = np.maximum(pf_seqs / attn_dp, np.minimum(pf_seqs, 1.0))
    npf_r = pf_r * chunk
    ta = nd_r + npf_r                             # tokens the busiest attention rank sees
    prefix = np.asarray(load.pf_prefix, dtype=float)
    h, L = model.hidden_size, model.num_layers
    ops: list[Op] = []
    lb, lt = prec.lin_bytes, prec.lin

    # ---------------------------------------------------------------- attention
    heads = model.num_heads / attn_tp
    if model.attention == "mla":
        ql, kvl, rope, nope, vd = (model.q_lora_rank or 0, model.kv_lora_rank, model.qk_rope_head_dim,
                                   model.qk_nope_head_dim, model.v_head_dim)
        # q_a and kv_a down-projections: whole on every rank (replicated), one fused GEMM
        ops.append(_gemm("attn_down_proj", L, ta, (ql + kvl + rope), h, wbytes=lb, dtype=lt))
        ops.append(_gemm("attn_q_up_proj", L, ta, heads * (nope + rope), ql or h, wbytes=lb, dtype=lt))
        # decode: absorbed W_UK / W_UV per head (batched matmuls in 16 bit)
        ops.append(_gemm("attn_absorb_k", L, nd_r, heads * kvl, nope, wbytes=2.0, dtype="bf16"))
        ops.append(_gemm("attn_absorb_v", L, nd_r, heads * vd, kvl, wbytes=2.0, dtype="bf16"))
        # prefill: K/V decompressed for the chunk and its cached prefix
        ops.append(_gemm("attn_kv_up_proj", L, npf_r + pf_r * prefix, heads * (nope + vd), kvl, wbytes=lb, dtype=lt))
        ops.append(_gemm("attn_o_proj", L, ta, h, heads * vd, wbytes=lb, dtype=lt))
        kv_tok = (kvl + rope) * prec.kv_bytes
        ctx_a, b_pf, c_pf, p_pf = load.ctx_dec, pf_r, chunk, prefix
        if model.index_topk:   # DSA: MLA over the indexer's top-k tokens (each query <= k keys)
            ops += _indexer_ops(model, L, ta, nd_r, pf_r, chunk, prefix, load.ctx_dec, ql or h, lt, lb)
            ctx_a, (b_pf, c_pf, p_pf) = np.minimum(load.ctx_dec, model.index_topk), _windowed(
                pf_r, chunk, prefix, float(model.index_topk))
        ops.append(Op(name="attn_decode", kind="mla_decode", count=L,
                      flops=2.0 * nd_r * heads * ctx_a * (2 * kvl + rope),
                      bytes_read=nd_r * ctx_a * kv_tok, bytes_written=nd_r * heads * kvl * ACT_BYTES,
                      dtype=prec.kv, shape={"batch": nd_r, "ctx": ctx_a, "heads": heads}))
        ops.append(Op(name="attn_prefill", kind="mla_prefill", count=L,
                      flops=2.0 * b_pf * heads * c_pf * (c_pf / 2.0 + p_pf) * (nope + rope + vd),
                      bytes_read=b_pf * (c_pf + p_pf) * kv_tok, bytes_written=b_pf * c_pf * heads * vd * ACT_BYTES,
                      dtype=prec.kv, shape={"batch": b_pf, "isl": c_pf, "heads": heads, "prefix": p_pf}))
    else:
        hd = model.head_dim
        kvh = np.maximum(1.0, model.num_kv_heads / attn_tp)
        La = L - model.num_linear_layers        # softmax-attention layers
        q_heads = 2.0 * heads if model.attn_output_gate else heads   # query + output gate
        ops.append(_gemm("attn_qkv_proj", La, ta, (q_heads + 2.0 * kvh) * hd, h, wbytes=lb, dtype=lt))
        ops.append(_gemm("attn_o_proj", La, ta, h, heads * hd, wbytes=lb, dtype=lt))
        kv_tok = 2.0 * kvh * hd * prec.kv_bytes
        window = float(model.sliding_window or 0)
        chunked = model.local_attention == "chunked"
        for label, layers, cap in (("", model.num_full_attention_layers, None),
                                   (f"_{model.local_attention}", model.num_sliding_layers, window)):
            if not layers:
                continue
            if cap is None:
                ctx = load.ctx_dec
            elif chunked:   # Llama 4: a token sees its own chunk only -- 1..chunk tokens
                c = np.asarray(load.ctx_dec, dtype=float)
                ctx = np.where(c > 0, c - cap * np.floor(np.maximum(c - 1.0, 0.0) / max(cap, 1.0)), 0.0)
            else:
                ctx = np.minimum(load.ctx_dec, cap)
            ops.append(Op(name=f"attn_decode{label}", kind="attn_decode", count=layers,
                          flops=4.0 * nd_r * heads * hd * ctx, bytes_read=nd_r * ctx * kv_tok,
                          bytes_written=nd_r * heads * hd * ACT_BYTES, dtype=prec.kv,
                          shape={"batch": nd_r, "ctx": ctx, "heads": heads, "kv_heads": kvh, "head_dim": hd}))
            if cap is None:
                b, c, p = pf_r, chunk, prefix
            else:   # a windowed prompt is like ceil(chunk/window) prompts of one window each
                b, c, p = _windowed(pf_r, chunk, prefix, cap)
            ops.append(Op(name=f"attn_prefill{label}", kind="attn_prefill", count=layers,
                          flops=4.0 * b * heads * hd * c * (c / 2.0 + p), bytes_read=b * (c + p) * kv_tok,
                          bytes_written=b * c * heads * hd * ACT_BYTES, dtype=prec.kv,
                          shape={"batch": b, "isl": c, "heads": heads, "kv_heads": kvh, "head_dim": hd,
                                 "prefix": p}))
        if model.num_linear_layers:
            ops += _linear_attn_ops(model, ta, nd_r, pf_r, npf_r, attn_tp, lt, lb)
    ops.append(_collective("attn_allreduce", "allreduce", L, ta * h * ACT_BYTES, attn_tp))

    # ---------------------------------------------------------------- MLP / MoE
    # Under attention-DP the MLP/MoE runs over the whole group on every rank's
    # tokens (all-gather in, reduce-scatter out = one all-reduce's volume);
    # with expert parallelism tokens travel to their experts instead.
    ep_mode = lay.ep > 1
    m_mlp = tokens                      # tokens an MLP rank multiplies (gathered under DP)
    dense_layers = model.num_dense_layers if model.is_moe else L
    if dense_layers and model.intermediate_size:
        f = model.intermediate_size / group
        ops.append(_gemm("mlp_gate_up", dense_layers, m_mlp, 2.0 * f, h, wbytes=lb, dtype=lt))
        ops.append(_gemm("mlp_down", dense_layers, m_mlp, h, f, wbytes=lb, dtype=lt))
        ops.append(Op(name="mlp_act", kind="elementwise", count=dense_layers, flops=0.0,
                      bytes_read=2.0 * m_mlp * f * ACT_BYTES, bytes_written=m_mlp * f * ACT_BYTES))
        ops.append(_collective("mlp_allreduce", "allreduce", dense_layers, m_mlp * h * ACT_BYTES, group))
    if model.is_moe:
        Lm = model.num_moe_layers
        m_own = np.where(ep_mode, ta, m_mlp)         # tokens this rank routes / runs shared experts on
        ops.append(_gemm("moe_router", Lm, m_own, model.num_experts, h, wbytes=2.0, dtype="bf16"))
        if model.shared_expert_intermediate_size:
            fs = model.shared_expert_intermediate_size / np.where(ep_mode, 1.0, group)
            ops.append(_gemm("moe_shared_gate_up", Lm, m_own, 2.0 * fs, h, wbytes=lb, dtype=lt))
            ops.append(_gemm("moe_shared_down", Lm, m_own, h, fs, wbytes=lb, dtype=lt))
        k, E, fe = model.experts_per_token, model.num_experts, model.moe_intermediate_size
        moe_ep = np.where(ep_mode, lay.ep, 1.0)
        moe_tp = group / moe_ep
        # expected local experts the step's tokens touch (weights read once per touched expert):
        # a token picks k distinct of E experts, so one expert escapes all T tokens with
        # probability (1 - k/E)^T
        assign = m_mlp * k / moe_ep                               # token-expert pairs per EP rank
        local = np.maximum(E / moe_ep, 1.0)
        touched = local * (1.0 - np.power(1.0 - k / E, m_mlp))
        ops.append(Op(name="moe_experts", kind="moe", count=Lm,
                      flops=2.0 * assign * 3.0 * h * fe / moe_tp,
                      bytes_read=touched * 3.0 * h * fe / moe_tp * prec.exp_bytes + assign * h * ACT_BYTES,
                      bytes_written=assign * h * ACT_BYTES, dtype=prec.exp,
                      shape={"tokens": m_mlp, "hidden": h, "inter": fe, "topk": k, "experts": E,
                             "moe_tp": moe_tp, "moe_ep": moe_ep}))
        # a token travels once to each distinct rank holding one of its experts (DeepEP);
        # the kernel tables count one copy per (token, expert) pair
        sent = ta * distinct_ranks(group, k) * h
        copies = ta * k * h
        disp_b = np.where(prec.exp_bytes <= 1.0, 1.0, ACT_BYTES)  # FP8 dispatch with FP8/FP4 experts (DeepEP)
        for name, b in (("moe_dispatch", disp_b), ("moe_combine", ACT_BYTES)):
            ops.append(Op(name=name, kind="alltoall", count=Lm * ep_mode, flops=0.0, bytes_read=0.0,
                          bytes_written=0.0, comm_bytes=sent * b, group=group,
                          shape={"nbytes": sent * b, "copy_bytes": copies * b, "n": group, "tokens": ta}))
        ops.append(_collective("moe_allreduce", "allreduce", Lm * (1 - ep_mode), m_mlp * h * ACT_BYTES, group))

    # ---------------------------------------------------------------- head, element-wise, pipeline
    lg = logits / attn_dp
    ops.append(_gemm("lm_head", pp, lg, model.vocab_size / attn_tp, h, wbytes=2.0, dtype="bf16"))
    ops.append(Op(name="elementwise", kind="elementwise", count=L, flops=0.0,
                  bytes_read=ELEMENTWISE_PASSES / 2 * ta * h * ACT_BYTES,
                  bytes_written=ELEMENTWISE_PASSES / 2 * ta * h * ACT_BYTES))
    stage_gpus = lay.instance_gpus / pp
    ops.append(_collective("pp_send", "p2p", pp * (pp > 1), tokens * h * ACT_BYTES / stage_gpus, 2.0))
    return OpTable(tuple(ops))


def op_kind(model: ModelSpec, name: str) -> str:
    """The kind of the op called ``name`` in this model's step tables (names are stable)."""
    if name.startswith("attn_decode") or name.startswith("attn_prefill"):
        phase = "decode" if "decode" in name else "prefill"
        return f"mla_{phase}" if model.attention == "mla" else f"attn_{phase}"
    return _KIND_BY_NAME.get(name, "")


_KIND_BY_NAME = {
    **{n: "gemm" for n in ("attn_down_proj", "attn_q_up_proj", "attn_absorb_k", "attn_absorb_v", "attn_kv_up_proj",
                           "attn_o_proj", "attn_qkv_proj", "mlp_gate_up", "mlp_down", "moe_router",
                           "moe_shared_gate_up", "moe_shared_down", "lm_head")},
    **{n: "gemm" for n in ("linear_in_proj", "linear_out_proj", "attn_indexer_q", "attn_indexer_k")},
    "linear_attn_decode": "linear_attn", "linear_attn_prefill": "linear_attn",
    "attn_indexer_decode": "indexer", "attn_indexer_prefill": "indexer",
    "moe_experts": "moe", "mlp_act": "elementwise", "elementwise": "elementwise",
    "attn_allreduce": "allreduce", "mlp_allreduce": "allreduce", "moe_allreduce": "allreduce",
    "moe_dispatch": "alltoall", "moe_combine": "alltoall", "pp_send": "p2p",
}


__all__ = ["ACT_BYTES", "ELEMENTWISE_PASSES", "KINDS", "Op", "OpTable", "Precision", "StepLoad", "distinct_ranks", "op_kind",
           "step_ops"]
