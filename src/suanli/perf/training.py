"""Training and fine-tuning: memory per accelerator, FLOPs per token and step time.

The step time comes from the same op table and kernel model as serving
(``perf.ops.step_ops`` + ``perf.opcost``): one micro-batch's forward pass is an
op table of ``micro_batch x seq_len`` prompt tokens, each op timed from the
measured kernel tables (or their transfer to the chip), and the backward pass
is each GEMM's data-gradient and weight-gradient GEMMs on their own shapes (only
data gradients for a frozen LoRA base), attention x 2.5 (FlashAttention-2
backward: 5 matmuls vs 2, Dao 2023, arXiv:2307.08691 sec. 3.2) and TP
collectives x 2.  What no kernel table shows --
the training framework's memory-bound non-GEMM work -- is one stated constant.

Pure functions (no files, environment or clock).  Units: bytes, FLOP, seconds, FLOP/s.
Glossary: ``s`` sequence length (tokens), ``b`` micro-batch (sequences), ``h`` hidden size,
``a`` attention heads, ``L`` layers, ``t``/``p``/``d`` tensor/pipeline/data-parallel sizes,
``m`` micro-batches per optimizer step per data-parallel rank, ``v`` virtual pipeline stages.

Sources of the formulas:

* 16 bytes per trainable parameter for mixed-precision Adam (2 bf16 weights + 2 gradients +
  12 fp32 master, momentum, variance); ZeRO stage 1 shards the 12, stage 2 also the
  gradients, stage 3 also the weights: Rajbhandari et al. 2020, "ZeRO" (SC20), sec. 3.1, 5.
* Activations ``sbh(34 + 5as/h)`` bytes per layer, their TP/sequence-parallel split, the
  first pipeline stage holding ``L`` layers' worth, ``2sbh`` per layer with full
  recomputation, fp32 logits ``4sbv/t``: Korthikanti et al. 2022, "Reducing Activation
  Recomputation in Large Transformer Models" (arXiv:2205.05198), eqs. 1-6, Table 2;
  generalised here to GQA/MLA widths, SwiGLU (three ``f``-wide tensors, = 16sbh at
  ``f = 8h/3``), MoE top-k experts and FlashAttention (no ``s^2`` terms).
* Model FLOPs per token ``6N + 12 L H Q s`` (the MFU convention, full ``s x s`` attention):
  Chowdhery et al. 2022, "PaLM", appendix B = Korthikanti eq. 7.  Executed FLOPs count
  causal attention (FlashAttention skips the masked half) and recomputed forwards.
* Pipeline bubble ``(p-1)/(v m)``: Narayanan et al. 2021, "Efficient Large-Scale Language
  Model Training on GPU Clusters Using Megatron-LM" (SC21), sec. 2.2.
* LoRA (Hu et al. 2021): adapters ``r (d_in + d_out)`` per projection, no weight gradients
  for the frozen base (4N); QLoRA (Dettmers et al. 2023): 4-bit base, 16-bit embeddings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from suanli.errors import InvalidInput, UnsupportedArchitecture
from suanli.perf.comm import allreduce_time, p2p_time
from suanli.perf.hardware import HwParams
from suanli.perf.layout import Layout, Precision
from suanli.perf.opcost import Platform, op_times
from suanli.perf.ops import StepLoad, step_ops
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec

METHODS = ("full", "lora", "qlora")
RECOMPUTE = ("none", "selective", "full")
LORA_TARGETS = ("q", "k", "v", "o", "gate", "up", "down")
ACT_BYTES = 2.0            # 16-bit activations
WEIGHT_BYTES = 2.0         # bf16 working weights
GRAD_BYTES = 2.0           # bf16 gradients (also the data-parallel reduce size)
OPTIMIZER_BYTES = 12.0     # fp32 master weights + Adam momentum + variance
OPTIMIZER_TRAFFIC = 28.0   # bytes moved per parameter by one fused Adam update
LOGIT_BYTES = 4.0          # fp32 logits kept for the cross-entropy backward
_BIG = 1 << 30             # "node size" that keeps comm.allreduce_time on one fabric


@dataclass(frozen=True, kw_only=True)
class TrainSetup:
    """How the job is laid out.  ``global_batch`` and ``micro_batch`` are in sequences of
    ``seq_len`` tokens; ``zero`` is the ZeRO/FSDP stage over the data-parallel group."""

    gpus: int
    seq_len: int
    global_batch: int
    micro_batch: int = 1
    tp: int = 1
    pp: int = 1
    virtual_stages: int = 1
    zero: int = 0
    recompute: str = "none"          # none | selective (attention core) | full (whole layers)
    method: str = "full"             # full | lora | qlora
    lora_rank: int = 16
    lora_targets: tuple[str, ...] = LORA_TARGETS
    flash_attention: bool = True
    sequence_parallel: bool = True   # Megatron SP with TP > 1
    dropout: bool = False
    dtype: str = "bf16"              # GEMM format: "bf16" or "fp8" (attention stays 16-bit)

    @property
    def dp(self) -> int:
        return self.gpus // (self.tp * self.pp)

    @property
    def micro_batches(self) -> int:
        """Micro-batches per optimizer step on each data-parallel rank (``m``)."""
        return self.global_batch // (self.dp * self.micro_batch)

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len


@dataclass(frozen=True, kw_only=True)
class TrainConstants:
    """Constants of the training-step model that are not kernel times (data with provenance).
    ``non_gemm_bytes``: HBM bytes per token, layer and unit of hidden size moved by the
    framework's memory-bound operations (norms, activations, residual adds, casts, launch
    gaps) in forward + backward, at ``hbm`` of the bandwidth; ``comm_*``: fraction of link
    bandwidth of large collectives; ``dequant_bytes_per_param``: HBM bytes per 4-bit weight
    per pass (QLoRA); ``reserve_*``: memory beyond the model (context, NCCL, fragmentation)."""

    non_gemm_bytes: float = 0.0
    comm_scaleup: float = 0.8
    comm_scaleout: float = 0.9
    hbm: float = 0.8
    dequant_bytes_per_param: float = 16.0
    reserve_fraction: float = 0.05
    reserve_bytes: float = 2.0e9
    mode: str = "calibrated"
    provenance: str = ""
    band: tuple[float, float] = (0.85, 1.15)


@dataclass(frozen=True, kw_only=True)
class TrainMemory:
    """Bytes on the busiest accelerator."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    reserve: float
    capacity: float
    trainable_params: float   # on this accelerator before ZeRO sharding

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations + self.reserve

    @property
    def fits(self) -> bool:
        return self.total <= self.capacity

    @property
    def shortfall(self) -> float:
        return max(0.0, self.total - self.capacity)


@dataclass(frozen=True, kw_only=True)
class TrainStep:
    """One optimizer step.  ``breakdown``: seconds per step by cause (sums to ``step_s``)."""

    step_s: float
    tokens_per_step: int
    tokens_per_s: float
    model_flops_per_token: float
    executed_flops_per_token: float
    mfu: float
    hfu: float
    memory: TrainMemory
    breakdown: dict[str, float] = field(default_factory=dict)
    dp_comm_s: float = 0.0          # data-parallel traffic time before overlap
    notes: tuple[str, ...] = ()


# --- checks --------------------------------------------------------------------------------

def check_setup(spec: ModelSpec, st: TrainSetup) -> None:
    """Raise :class:`InvalidInput` for a layout that cannot run."""
    def need(ok: bool, message: str, name: str) -> None:
        if not ok:
            raise InvalidInput(message, field=name)
    for name in ("gpus", "seq_len", "global_batch", "micro_batch", "tp", "pp", "virtual_stages", "lora_rank"):
        value = getattr(st, name)
        need(isinstance(value, int) and value >= 1, f"{name.replace('_', '-')} must be a positive integer, "
             f"got {value!r}", name)
    need(st.gpus % (st.tp * st.pp) == 0, f"--gpus {st.gpus} is not a multiple of tp x pp = {st.tp * st.pp}", "gpus")
    if spec.num_linear_layers or spec.index_topk:
        what, key = (("Gated DeltaNet linear-attention layers", "linear_num_value_heads") if spec.num_linear_layers
                     else ("DeepSeek sparse attention (lightning indexer)", "index_topk"))
        raise UnsupportedArchitecture(f"{spec.id}: training accounting does not model {what} (model_type "
                                      f"{spec.model_type!r}, config field {key!r}) yet; serving predictions do",
                                      field=key)
    need(spec.num_heads % st.tp == 0, f"--tp {st.tp} does not divide the {spec.num_heads} attention heads "
         f"of {spec.id}", "tp")
    kv = spec.num_kv_heads
    need(spec.attention == "mla" or kv % st.tp == 0 or st.tp % kv == 0,
         f"--tp {st.tp} neither divides nor is a multiple of the {kv} KV heads of {spec.id}", "tp")
    need(st.pp <= spec.num_layers, f"--pp {st.pp} exceeds the {spec.num_layers} layers of {spec.id}", "pp")
    need(st.virtual_stages <= math.ceil(spec.num_layers / st.pp), f"{st.virtual_stages} virtual stages leave "
         f"pipeline chunks without layers ({spec.num_layers} layers over pp={st.pp})", "virtual_stages")
    need(st.virtual_stages == 1 or st.pp > 1, "virtual pipeline stages need --pp > 1", "virtual_stages")
    need(st.zero in (0, 1, 2, 3), f"--zero must be 0, 1, 2 or 3, got {st.zero!r}", "zero")
    need(st.recompute in RECOMPUTE, f"recompute must be one of {', '.join(RECOMPUTE)}", "recompute")
    need(st.method in METHODS, f"--method must be one of {', '.join(METHODS)}, got {st.method!r}", "method")
    bad = [t for t in st.lora_targets if t not in LORA_TARGETS]
    need(not bad and bool(st.lora_targets), f"LoRA targets must be among {', '.join(LORA_TARGETS)}", "lora_targets")
    unit = st.dp * st.micro_batch
    need(st.global_batch % unit == 0, f"--global-batch {st.global_batch} is not a multiple of data-parallel "
         f"size x micro-batch = {st.dp} x {st.micro_batch} = {unit} sequences", "global_batch")


# --- parameters ----------------------------------------------------------------------------

def matmul_params(spec: ModelSpec) -> float:
    """N of ``6N``: parameters multiplied per token (active experts, LM head; a tied
    embedding counts once as the LM head, the input lookup is free)."""
    tied = spec.embedding_params if spec.tie_word_embeddings else 0
    return float(spec.params_active + tied)


def _projections(spec: ModelSpec, *, active: bool) -> dict[str, list[tuple[int, int, int]]]:
    """LoRA-adaptable projections: name -> [(d_in, d_out, count in the whole model)].
    ``active``: count only the experts a token uses (for FLOPs)."""
    h, L, nh = spec.hidden_size, spec.num_layers, spec.num_heads
    out: dict[str, list[tuple[int, int, int]]] = {name: [] for name in LORA_TARGETS}
    if spec.attention == "mla":
        qk, ql = spec.q_head_dim, spec.q_lora_rank
        out.update(q=[(h, ql, L), (ql, nh * qk, L)] if ql else [(h, nh * qk, L)],
                   k=[(h, spec.kv_lora_rank + spec.qk_rope_head_dim, L)],
                   v=[(spec.kv_lora_rank, nh * (spec.qk_nope_head_dim + spec.v_head_dim), L)],
                   o=[(nh * spec.v_head_dim, h, L)])
    else:
        d, kvd = spec.head_dim, spec.num_kv_heads * spec.head_dim
        out.update(q=[(h, nh * d, L)], k=[(h, kvd, L)], v=[(h, kvd, L)], o=[(nh * d, h, L)])
    dense_layers = spec.num_dense_layers if spec.is_moe else L
    mlps = [(spec.intermediate_size, dense_layers)]
    if spec.is_moe:
        experts = spec.experts_per_token if active else spec.num_experts
        mlps.append((spec.moe_intermediate_size, spec.num_moe_layers * experts))
        if spec.shared_expert_intermediate_size:
            mlps.append((spec.shared_expert_intermediate_size, spec.num_moe_layers))
    for f, n in mlps:
        for name, shape in (("gate", (h, f, n)), ("up", (h, f, n)), ("down", (f, h, n))):
            out[name] += [shape] if f and n else []
    return out


def lora_params(spec: ModelSpec, rank: int, targets: tuple[str, ...] = LORA_TARGETS, *,
                active: bool = False) -> float:
    """Adapter parameters ``r (d_in + d_out)`` summed over the adapted projections."""
    proj = _projections(spec, active=active)
    return float(sum(rank * (din + dout) * n for name in targets for din, dout, n in proj[name]))


def linear_params(spec: ModelSpec) -> float:
    """Parameters of the projection matrices (what QLoRA stores in 4 bits)."""
    proj = _projections(spec, active=False)
    return float(sum(din * dout * n for rows in proj.values() for din, dout, n in rows))


def _stage_params(spec: ModelSpec, pp: int) -> tuple[float, float]:
    """(all parameters, linear parameters) of the busiest pipeline stage (whole TP group):
    the first stage holds the input embedding, the last the LM head (a tied embedding is
    copied there when p > 1, as in Megatron)."""
    total = float(spec.params_total)
    if pp == 1:
        return total, linear_params(spec)
    head = spec.embedding_params if spec.tie_word_embeddings else spec.lm_head_params
    share = math.ceil(spec.num_layers / pp) / spec.num_layers
    layers = (total - spec.embedding_params - spec.lm_head_params - spec.hidden_size) * share
    return layers + max(spec.embedding_params, head + spec.hidden_size), linear_params(spec) * share


# --- memory --------------------------------------------------------------------------------

def layer_activation_bytes(spec: ModelSpec, *, seq_len: int, micro_batch: int = 1, tp: int = 1,
                           sequence_parallel: bool = True, flash_attention: bool = True,
                           dropout: bool = False, selective: bool = False, moe: bool | None = None) -> float:
    """Bytes one transformer layer keeps for its backward pass, one micro-batch, one TP rank.

    Korthikanti et al. eq. 1: ``sbh(34 + 5as/h)`` for a GPT layer (MHA, 4h GeLU MLP,
    dropout, no FlashAttention, t = 1).  Without sequence parallelism the layer-norm
    inputs, dropout masks and block inputs (``10sbh``) stay whole on every TP rank (eq. 2).
    ``selective`` drops the ``s^2`` attention terms (recomputed); FlashAttention never
    stores them (it keeps the output and fp32 log-sum-exp per head instead).
    """
    s, b, h, t = float(seq_len), float(micro_batch), float(spec.hidden_size), float(tp)
    sb = s * b
    nh, dq = spec.num_heads, spec.q_head_dim
    dv = spec.v_head_dim if spec.attention == "mla" else spec.head_dim
    kvh = nh if spec.attention == "mla" else spec.num_kv_heads
    sp = sequence_parallel and tp > 1
    # norms (2 x 2sbh), block inputs of attention and MLP (2 x 2sbh), dropout masks (2 x sbh)
    replicated = sb * h * (4 + 4 + (2 if dropout else 0))
    split = ACT_BYTES * sb * (nh * dq + kvh * dq + kvh * dv)      # Q, K, V
    split += ACT_BYTES * sb * nh * dv                              # attention output = out-proj input
    if flash_attention:
        split += 4.0 * sb * nh                                     # fp32 log-sum-exp
    elif not selective:
        split += (5.0 if dropout else 2.0) * nh * s * s * b       # softmax (+ mask, dropout out)
    is_moe = spec.is_moe if moe is None else moe
    if is_moe:
        width = spec.experts_per_token * spec.moe_intermediate_size + spec.shared_expert_intermediate_size
        split += ACT_BYTES * sb * h * spec.experts_per_token       # permuted expert inputs
    else:
        width = spec.intermediate_size
    split += 3 * ACT_BYTES * sb * width                            # gate, up, act*up
    return replicated / (t if sp else 1.0) + split / t


def activation_memory(spec: ModelSpec, st: TrainSetup) -> float:
    """Activation bytes on the busiest accelerator: the first pipeline stage keeps
    ``min(p, m)`` micro-batches of ``L/p`` layers in flight (x ``1 + (p-1)/(p v)`` when
    interleaved); the last stage adds the fp32 logits."""
    def layer(moe: bool) -> float:
        return layer_activation_bytes(spec, seq_len=st.seq_len, micro_batch=st.micro_batch, tp=st.tp,
                                      sequence_parallel=st.sequence_parallel, flash_attention=st.flash_attention,
                                      dropout=st.dropout, selective=st.recompute == "selective", moe=moe)
    n_moe = spec.num_moe_layers
    dense, moe = layer(False), (layer(True) if n_moe else 0.0)
    per_mb = (spec.num_layers - n_moe) * dense + n_moe * moe
    if st.recompute == "full":
        sp = st.sequence_parallel and st.tp > 1
        ckpt = ACT_BYTES * st.seq_len * st.micro_batch * spec.hidden_size / (st.tp if sp else 1)
        per_mb = spec.num_layers * ckpt
        work = max(dense, moe)       # one layer's activations while it is recomputed
    else:
        work = 0.0
    p, m, v = st.pp, st.micro_batches, st.virtual_stages
    logits = LOGIT_BYTES * st.seq_len * st.micro_batch * spec.vocab_size / st.tp
    if p == 1:
        return per_mb + work + logits
    inflight = min(p, m) / p * (1.0 + (p - 1) / (p * v) if v > 1 else 1.0)
    return max(per_mb * inflight + work, per_mb / p + work + logits)


def train_memory(spec: ModelSpec, st: TrainSetup, *, capacity: float, eff: TrainConstants) -> TrainMemory:
    """Weights, gradients, optimizer state and activations on the busiest accelerator."""
    stage, stage_linear = _stage_params(spec, st.pp)
    per_gpu, linear = stage / st.tp, stage_linear / st.tp
    if st.method == "full":
        trainable = per_gpu
        weights = WEIGHT_BYTES * per_gpu
    else:
        trainable = lora_params(spec, st.lora_rank, st.lora_targets) / (st.tp * st.pp)
        if st.method == "qlora":
            base = linear * DType.INT4.bytes + (per_gpu - linear) * WEIGHT_BYTES
        else:
            base = WEIGHT_BYTES * per_gpu
        weights = base + WEIGHT_BYTES * trainable
    grads = GRAD_BYTES * trainable
    opt = OPTIMIZER_BYTES * trainable
    d = st.dp
    if st.zero >= 1:
        opt /= d
    if st.zero >= 2:
        grads /= d
    if st.zero >= 3:
        weights /= d
    return TrainMemory(weights=weights, gradients=grads, optimizer=opt, activations=activation_memory(spec, st),
                       reserve=eff.reserve_fraction * capacity + eff.reserve_bytes, capacity=capacity,
                       trainable_params=trainable)


# --- FLOPs ---------------------------------------------------------------------------------

def attention_flops_per_token(spec: ModelSpec, seq_len: int, *, causal: bool) -> float:
    """Forward FLOPs per token of ``QK^T`` and ``AV`` over all layers: ``2 H (d_qk + d_v) c``
    with context ``c = s`` (PaLM/MFU convention) or the causal average (~s/2; the
    sliding window caps it on sliding layers)."""
    s = float(seq_len)
    dv = spec.v_head_dim if spec.attention == "mla" else spec.head_dim
    per_ctx = 2.0 * spec.num_heads * (spec.q_head_dim + dv)

    def ctx(window: float) -> float:
        if not causal:
            return min(window, s)
        return (s + 1) / 2 if s <= window else window - window * (window - 1) / (2 * s)

    def chunked(c: float) -> float:
        """Mean keys per query when queries see only their own chunk of ``c`` tokens
        (Llama 4): n full chunks of c (c + 1) / 2 plus a remainder r of r (r + 1) / 2."""
        if not causal:
            return min(c, s)
        n = math.floor(s / c)
        r = s - n * c
        return (n * c * (c + 1) / 2 + r * (r + 1) / 2) / s

    full = spec.num_full_attention_layers * ctx(math.inf)
    window = float(spec.sliding_window or math.inf)
    local = 0.0
    if spec.num_sliding_layers:
        local = spec.num_sliding_layers * (chunked(window) if spec.local_attention == "chunked" else ctx(window))
    return per_ctx * (full + local)


def flops_per_token(spec: ModelSpec, st: TrainSetup) -> tuple[float, float]:
    """(model FLOPs, executed FLOPs) per trained token.

    Model FLOPs: ``6N + 3 x attention(c = s)`` for full training (PaLM appendix B); for
    LoRA ``4N`` (forward + input gradients; no weight gradients for the frozen base) plus
    ``6 N_adapter``.  Executed FLOPs: attention causal when FlashAttention skips the masked
    blocks; full recomputation adds one forward, selective one attention core."""
    n = matmul_params(spec)
    passes = 6.0 if st.method == "full" else 4.0
    adapters = 0.0 if st.method == "full" else lora_params(spec, st.lora_rank, st.lora_targets, active=True)
    model = passes * n + 6.0 * adapters + 3.0 * attention_flops_per_token(spec, st.seq_len, causal=False)
    attn = attention_flops_per_token(spec, st.seq_len, causal=st.flash_attention)
    executed = passes * n + 6.0 * adapters + 3.0 * attn
    return model, executed


def recompute_flops_per_token(spec: ModelSpec, st: TrainSetup) -> float:
    attn = attention_flops_per_token(spec, st.seq_len, causal=st.flash_attention)
    if st.recompute == "full":
        adapters = 0.0 if st.method == "full" else lora_params(spec, st.lora_rank, st.lora_targets, active=True)
        return 2.0 * (matmul_params(spec) + adapters) + attn
    return attn if st.recompute == "selective" else 0.0


# --- time ----------------------------------------------------------------------------------

def _allreduce(size: float, n: int, bw: float, latency: float, eff: float) -> float:
    return float(allreduce_time(size, n, link_bw=bw, scaleout_bw=bw, node_size=_BIG, latency=latency,
                                scaleout_latency=0.0, eff=eff))


def dp_allreduce_time(size: float, st: TrainSetup, hw: HwParams, eff: TrainConstants) -> float:
    """Hierarchical all-reduce of ``size`` bytes over the data-parallel group: ring over the
    DP peers inside a node (scale-up), then over nodes with each GPU's own NIC carrying
    ``size / peers`` (NCCL's ring/tree over per-GPU NICs).  DP is the outermost dimension,
    so a node holds ``node_size / (t p)`` peers."""
    d = st.dp
    peers = max(1, min(d, hw.node_size // (st.tp * st.pp)))
    nodes = math.ceil(d / peers)
    t = _allreduce(size, peers, hw.link_bw, hw.link_latency_s, eff.comm_scaleup)
    if nodes > 1:
        t += _allreduce(size / peers, nodes, hw.scaleout_bw, hw.scaleout_latency_s, eff.comm_scaleout)
    return t


# backward / forward time ratios of the kernels without backward tables (see module docstring)
BACKWARD_ATTENTION = 2.5     # FlashAttention-2: 5 matmuls backward vs 2 forward
NO_FLASH_ATTENTION = 2.0     # without FlashAttention the kernel computes the full s x s scores


def forward_times(spec: ModelSpec, st: TrainSetup, pf: Platform) -> dict[str, float]:
    """Seconds of one micro-batch's forward pass on one GPU of a pipeline stage, by cause:
    ``gemm`` (projections, experts, LM head), ``attention`` and ``tp_comm``, and the backward
    GEMMs ``gemm_dgrad`` / ``gemm_wgrad`` of those projections, from the op table
    of ``micro_batch x seq_len`` prompt tokens (the serving op table with the batch of all
    ``pp`` stages, divided by ``pp``: each stage runs 1/pp of the layers)."""
    p = st.pp
    key = "fp8" if st.dtype == "fp8" else "bf16"
    wbytes = DType.parse(key).bytes
    prec = Precision(lin=key, exp=key, kv="bf16", lin_bytes=wbytes, exp_bytes=wbytes, kv_bytes=2.0)
    lay = Layout(gpus=float(st.tp * p), tp=float(st.tp), pp=float(p), ep=1.0, dp_attention=1.0, prec=prec)
    tokens = float(st.micro_batch * st.seq_len)
    load = StepLoad(n_pf=tokens * p, pf_seqs=float(st.micro_batch * p), logits=tokens * p)
    table = step_ops(spec, lay, load, prec)
    times = op_times(table, pf)
    out = {"gemm": 0.0, "gemm_dgrad": 0.0, "gemm_wgrad": 0.0, "attention": 0.0, "tp_comm": 0.0}
    for op in table:
        t = float(times[op.name]) / p
        if op.kind == "gemm":
            out["gemm"] += t
            if pf.speed_of_light:
                out["gemm_dgrad"] += t
                out["gemm_wgrad"] += t
                continue
            # backward GEMMs on their own shapes: dX[m,k] = dY[m,n] W^T[n,k]; dW[k,n] = X^T[k,m] dY[m,n]
            m_, n_, k_ = (op.shape[x] for x in ("m", "n", "k"))
            c = float(op.count) / p
            out["gemm_dgrad"] += c * float(pf.kernels.gemm(m_, k_, n_, op.dtype))
            out["gemm_wgrad"] += c * float(pf.kernels.gemm(k_, n_, m_, op.dtype))
        elif op.kind == "moe":
            out["gemm"] += t
            out["gemm_dgrad"] += t       # grouped GEMMs: backward shapes are not in the tables;
            out["gemm_wgrad"] += t       # each backward pass costs one forward
        elif op.kind in ("attn_prefill", "mla_prefill"):
            out["attention"] += t * (1.0 if st.flash_attention else NO_FLASH_ATTENTION)
        elif op.kind in ("allreduce", "allgather") and st.tp > 1:
            out["tp_comm"] += t
    return out


def adapter_time(spec: ModelSpec, st: TrainSetup, pf: Platform) -> float:
    """Forward seconds of the LoRA adapters of one micro-batch on one GPU of a stage:
    per adapted projection ``x A`` (``d_in x r``) then ``(xA) B`` (``r x d_out``)."""
    if st.method == "full":
        return 0.0
    m = float(st.micro_batch * st.seq_len)
    proj = _projections(spec, active=True)
    total = 0.0
    for name in st.lora_targets:
        for din, dout, n in proj[name]:
            t = pf.kernels.gemm(m, float(st.lora_rank), din / st.tp, "bf16") + pf.kernels.gemm(m, dout / st.tp,
                                                                                            float(st.lora_rank), "bf16")
            total += n * float(t)
    return total / st.pp


def train_step(spec: ModelSpec, st: TrainSetup, pf: Platform, eff: TrainConstants) -> TrainStep:
    """Time of one optimizer step and its breakdown.  Assumptions (one term each):

    * compute: the forward op table's kernel times (``forward_times``) x (1 + backward
      ratio), plus memory-bound non-GEMM traffic / (HBM bandwidth x ``eff.hbm``);
    * pipeline bubble: ``(p-1)/(v m)`` of the busy time per micro-batch (compute, TP
      collectives, dequantisation);
    * TP: the op table's all-reduces of the hidden state, forward and backward (Megatron:
      4 per layer per micro-batch; +2 with full recomputation), not overlapped;
    * PP: one activation send forward and one gradient send backward per micro-batch and
      virtual stage, not overlapped;
    * DP: ZeRO 0-2 reduce the gradients once per step (ZeRO 1/2 as reduce-scatter +
      all-gather of the same volume), overlapped with the backward of the last micro-batch
      (2/3 of its compute); ZeRO-3 gathers the weights in forward and backward and
      reduce-scatters gradients every micro-batch, overlapped with that micro-batch;
    * optimizer: a memory-bound Adam update of the local optimizer shard;
    * QLoRA: dequantising the 4-bit base every forward and backward pass.
    """
    check_setup(spec, st)
    hw = pf.hw
    peak = float(hw.peaks.get(st.dtype) or hw.peak_attn)
    mem = train_memory(spec, st, capacity=hw.memory, eff=eff)
    model_tok, exec_tok = flops_per_token(spec, st)
    rc_tok = recompute_flops_per_token(spec, st)
    m, p, v = st.micro_batches, st.pp, st.virtual_stages
    fwd = forward_times(spec, st, pf)
    # backward: data gradients always; weight gradients only for trained (not frozen) weights
    bwd = fwd["gemm_dgrad"] + (fwd["gemm_wgrad"] if st.method == "full" else 0.0)
    t_adapt = 3.0 * adapter_time(spec, st, pf)               # forward + input and weight gradients
    t_gemm = m * (fwd["gemm"] + bwd + t_adapt)
    t_attn = m * fwd["attention"] * (1.0 + BACKWARD_ATTENTION)
    per_gpu = st.tokens_per_step / st.gpus
    non_gemm = per_gpu * spec.num_layers * eff.non_gemm_bytes * spec.hidden_size / (hw.mem_bw * eff.hbm)
    t_compute = t_gemm + t_attn + non_gemm
    if st.recompute == "full":        # one more forward (and its memory-bound ops)
        t_recompute = m * (fwd["gemm"] + t_adapt / 3.0 + fwd["attention"]) + non_gemm / 3.0
    elif st.recompute == "selective":  # the attention core again
        t_recompute = m * fwd["attention"]
    else:
        t_recompute = 0.0
    t_tp = m * fwd["tp_comm"] * (2.0 + (1.0 if st.recompute == "full" else 0.0))
    act = ACT_BYTES * st.micro_batch * st.seq_len * spec.hidden_size
    inside = st.tp * p <= hw.node_size
    bw, lat = (hw.link_bw, hw.link_latency_s) if inside else (hw.scaleout_bw, hw.scaleout_latency_s)
    size = act / (st.tp if st.sequence_parallel and st.tp > 1 else 1)
    t_pp = 2 * m * v * float(p2p_time(size, bw=bw, latency=lat, eff=eff.comm_scaleup if inside
                                      else eff.comm_scaleout)) if p > 1 else 0.0
    passes = 3 if st.recompute == "full" else 2
    t_dequant = (m * passes * _stage_params(spec, p)[1] / st.tp * eff.dequant_bytes_per_param / hw.mem_bw
                 if st.method == "qlora" else 0.0)
    busy = t_compute + t_recompute + t_tp + t_dequant
    t_bubble = busy * (p - 1) / (v * m) if p > 1 else 0.0
    # data parallel
    t_dp_raw, t_dp = 0.0, 0.0
    mb_compute = (t_compute + t_recompute) / m
    if st.dp > 1:
        grads = GRAD_BYTES * mem.trainable_params
        if st.zero == 3:
            gathered = mem.weights * st.dp  # unsharded bytes of this rank's TP/PP share
            per_mb = dp_allreduce_time(gathered, st, hw, eff) + 0.5 * dp_allreduce_time(grads, st, hw, eff)
            t_dp_raw = m * per_mb
            t_dp = m * max(0.0, per_mb - mb_compute)
        else:
            t_dp_raw = dp_allreduce_time(grads, st, hw, eff)
            t_dp = max(0.0, t_dp_raw - 2.0 / 3.0 * mb_compute)
    opt_params = mem.trainable_params / (st.dp if st.zero >= 1 else 1)
    t_opt = opt_params * OPTIMIZER_TRAFFIC / (hw.mem_bw * eff.hbm)
    breakdown = {"gemm": t_gemm, "attention": t_attn, "non_gemm": non_gemm, "recompute": t_recompute,
                 "pipeline_bubble": t_bubble, "tp_comm": t_tp, "pp_comm": t_pp, "dp_comm_exposed": t_dp,
                 "optimizer": t_opt, "dequant": t_dequant}
    step = sum(breakdown.values())
    tok_s = st.tokens_per_step / step
    notes: list[str] = []
    if spec.is_moe:
        notes.append("MoE: experts are split by TP (expert-parallel all-to-all and router imbalance "
                     "are not modelled for training)")
    if m < p:
        notes.append(f"only {m} micro-batches for {p} pipeline stages: the pipeline is mostly idle")
    return TrainStep(step_s=step, tokens_per_step=st.tokens_per_step, tokens_per_s=tok_s,
                     model_flops_per_token=model_tok, executed_flops_per_token=exec_tok + rc_tok,
                     mfu=model_tok * tok_s / (st.gpus * peak),
                     hfu=(exec_tok + rc_tok) * tok_s / (st.gpus * peak), memory=mem,
                     breakdown=breakdown, dp_comm_s=t_dp_raw, notes=tuple(notes))
