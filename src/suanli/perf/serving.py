"""Serving metrics (TTFT, TPOT, tokens/s per accelerator) for the scenarios of
the validation schema, from the step-time model.

Steady state of continuous batching (vLLM, SGLang, TensorRT-LLM in-flight
batching): with ``B`` sequences decoding, each engine step emits ``B`` tokens
and, because every request needs ``isl`` prompt tokens per ``osl`` generated
ones, also prefills on average ``B * isl / osl`` prompt tokens (chunked
prefill mixes them into the same step).  The step time ``t_ss(B)`` is then
the TPOT, and ``B / t_ss(B)`` the output rate of one instance.

* offline: ``B`` is the engine's limit (max sequences, KV capacity, token budget).
* fixed-concurrency / single-request: ``B`` = the client's concurrency per
  instance; the other ``B-1`` requests' prompts interleave with a request's
  decode; closed loop: rate = B x osl / (TTFT + (osl-1) x TPOT).
* server (Poisson arrivals at rate lambda): by Little's law the batch settles
  where the output rate equals the offered load, ``B / t_ss(B) = lambda x osl``
  (solved on a vectorised grid).  A new request waits on average half a step
  for the running step to finish, then its prompt runs in one mixed step:
  ``TTFT ~ overhead + 0.5 t_ss + t_mixed`` (the documented queueing
  approximation; the request-level simulator refines it).
* prefill-only / decode-only: one phase in isolation.

Every function here works on a :class:`~suanli.perf.layout.Layout` of many
deployments at once; :func:`predict_serving` is the one-deployment view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suanli.perf.layout import Layout
from suanli.perf.opcost import Platform
from suanli.perf.memory import MemoryPlan, plan_memory, weights_per_gpu
from suanli.perf.runtime import EngineLimits
from suanli.perf.step import StepLoad, step_breakdown, step_time
from suanli.specs.deployment import Workload
from suanli.specs.model import ModelSpec

SERVER_GRID = np.geomspace(1e-4, 1.0, 72)   # batch as a share of capacity, for the server solve


@dataclass(frozen=True, kw_only=True)
class Instance:
    """One model instance (replica) as batch sizes vary: model, layouts, platform
    (chip, kernels, engine runtime) and request lengths."""

    model: ModelSpec
    lay: Layout
    pf: Platform
    isl: float
    osl: float

    @property
    def ctx_dec(self) -> float:
        return self.isl + self.osl / 2.0

    def step_time_s(self, load: StepLoad) -> Any:
        """Seconds of one engine step of ``load`` on this instance."""
        return step_time(self.model, self.lay, self.pf, load)

    @property
    def limits(self) -> EngineLimits:
        return self.pf.runtime.limits

    def parts(self, n_dec: Any, n_pf: Any = 0.0, seqs: Any = 0.0, prefix: Any = 0.0, logits: Any = None
              ) -> dict[str, Any]:
        """Per-op seconds of one step: ``n_dec`` decodes plus ``n_pf`` prompt tokens of
        ``seqs`` prompts (after ``prefix`` cached tokens each)."""
        return step_breakdown(self.model, self.lay, self.pf,
                              StepLoad(n_dec=n_dec, ctx_dec=self.ctx_dec, n_pf=n_pf, pf_seqs=seqs,
                                       pf_prefix=prefix, logits=logits))

    def mean_step(self, n_dec: Any, prompts: Any) -> dict[str, Any]:
        """Mean engine step with ``n_dec`` decoders while ``prompts`` new prompts
        are admitted per step on average.

        Engines schedule a waiting prompt whole into the next step when it fits
        the token budget (chunks of the budget otherwise), so prompts arrive in
        lumps: with fewer than one prompt per step a fraction ``prompts`` of the
        steps carries one prompt and the rest are pure decode; with more, every
        step carries ``prompts`` of them.  A lump of ``m`` prompts split over
        ``c`` chunks adds ``t(n_dec, m*isl) - t(n_dec)`` to the time of ``c``
        token-emitting steps (the extra weight passes of the chunks are those
        decode steps), hence mean step = ``t_dec + prompts/m * (t_lump - t_dec)``.
        Returns the mean (the TPOT), the mean residual of a step seen by a
        random arrival (``E[T^2] / 2E[T]``), and the per-op parts of the mean.
        """
        n_dec = np.asarray(n_dec, dtype=float)
        lump = np.maximum(np.asarray(prompts, dtype=float), 1.0)
        return self.combine(self.parts(n_dec), self.parts(n_dec, lump * self.isl, lump), prompts)

    def combine(self, dec: dict[str, Any], big: dict[str, Any], prompts: Any) -> dict[str, Any]:
        """:meth:`mean_step` from already evaluated decode-only and lump steps."""
        r = np.asarray(prompts, dtype=float)
        lump = np.maximum(r, 1.0)
        t_dec, t_big = sum(dec.values()), sum(big.values())
        share = r / lump
        mean = t_dec + share * (t_big - t_dec)
        chunks = np.maximum(1.0, np.ceil(lump * self.isl / self.limits.max_batched_tokens))
        t_chunk = t_dec + (t_big - t_dec) / chunks
        f = np.minimum(1.0, share * chunks)                       # share of steps carrying prompt tokens
        residual = ((1.0 - f) * t_dec ** 2 + f * t_chunk ** 2) / (2.0 * ((1.0 - f) * t_dec + f * t_chunk))
        return {"mean": mean, "residual": residual, "t_dec": t_dec, "t_big": t_big,
                "parts": {k: dec[k] + share * (big[k] - dec[k]) for k in dec}}

    def prompt_load(self, seqs: Any = 1.0) -> tuple[Any, Any, Any, Any, Any]:
        """How ``seqs`` prompts are prefilled under the token budget: (chunk steps,
        prompt tokens per step, prompts per step, mean cached prefix per chunk,
        prompts finishing per step).  A prompt longer than the budget is split
        into chunks that attend to the chunks before them (chunked prefill);
        attention-DP ranks each prefill their own prompts under their own budget."""
        seqs = np.asarray(seqs, dtype=float)
        budget = float(self.limits.max_batched_tokens)
        dp = np.asarray(self.lay.attn_dp, dtype=float)
        tokens = seqs * self.isl
        n_chunks = np.maximum(1.0, np.maximum(np.ceil(tokens / (budget * dp)), np.ceil(self.isl / budget)))
        per_step = tokens / n_chunks
        split = self.isl > budget
        pf_seqs = np.where(split, np.minimum(seqs, dp), per_step / self.isl)
        prefix = np.where(split, (self.isl - self.isl / np.ceil(self.isl / budget)) / 2.0, 0.0)
        return n_chunks, per_step, pf_seqs, prefix, seqs / n_chunks

    def prompt_time(self, n_dec: Any, seqs: Any = 1.0) -> Any:
        """Time from a prompt's first scheduled step to its first token, ``seqs``
        prompts together, while ``n_dec`` sequences keep decoding: every chunk step
        of the prompts (see :meth:`prompt_load`)."""
        n_chunks, per_step, pf_seqs, prefix, done = self.prompt_load(seqs)
        n_dec = np.asarray(n_dec, dtype=float)
        step = sum(self.parts(n_dec, per_step, pf_seqs, prefix, n_dec + done).values())
        return n_chunks * step

    def closed_loop(self, b: Any) -> dict[str, Any]:
        """Metrics with ``b`` requests in flight per instance (closed loop): a
        request decodes next to ``b-1`` others, whose prompts come back every
        ``osl`` steps; its own prompt waits for the running step, then runs."""
        b = np.asarray(b, dtype=float)
        others = np.maximum(b - 1.0, 0.0)
        m = self.mean_step(b, others / self.osl)
        wait = np.where(b > 1.0, m["residual"], 0.0)
        ttft = self.pf.runtime.request_s + wait + self.prompt_time(others)
        cycle = ttft + (self.osl - 1.0) * m["mean"]
        return {"tpot": m["mean"], "ttft": ttft, "req_rate": b / cycle, "parts": m["parts"]}

    def plans(self) -> tuple[MemoryPlan, MemoryPlan]:
        lim = self.limits
        kw = dict(memory=self.pf.hw.memory, mem_fraction=lim.mem_fraction, workspace=lim.workspace_bytes,
                  weights=weights_per_gpu(self.model, self.lay).total)
        return (plan_memory(self.model, self.lay, context=self.ctx_dec, **kw),
                plan_memory(self.model, self.lay, context=self.isl + self.osl, **kw))

    def batch_cap(self, plan: MemoryPlan, decode_only: bool = False) -> Any:
        """Most sequences one instance decodes together: the engine's sequence
        limit, the KV capacity at the mean context, and the token budget (every
        step carries its decodes plus, in steady state, ``isl/osl`` prompt tokens
        per decode; decode-only instances carry no prompts).  Each attention-DP
        rank has its own scheduler, limits and budget."""
        lim = self.limits
        dp = self.lay.attn_dp
        share = 1.0 if decode_only else self.osl / (self.osl + self.isl)
        by_budget = (lim.max_batched_tokens * share + 1.0) * dp
        return np.maximum(1.0, np.minimum(np.minimum(lim.max_seqs * dp, plan.max_seqs_per_instance), by_budget))

    def server_queue(self, cap: Any, lam: Any) -> dict[str, Any]:
        """Poisson arrivals at ``lam`` requests/s on one instance whose batch limit is ``cap``:
        the stationary number of requests N in the instance, from a birth-death chain.

        Continuous batching serves the ``b = min(N, cap)`` running requests like processor
        sharing: every step gives each one token, so requests complete at
        ``r(b) = b / (t(b) osl)`` per second, with ``t(b)`` the mean step at that batch
        (its share of prompt lumps included); the rest wait in a FIFO queue.  Then
        ``P(N = n) ~ prod_{k<=n} lam / r(min(k, cap))`` (M/G/1 processor sharing with a
        state-dependent rate is insensitive to the output-length distribution; Kelly,
        "Reversibility and Stochastic Networks", 1979, ch. 3), and by Little's law:

        * TPOT = E[b] / (lam osl) -- the token-weighted mean step time;
        * mean queueing before admission = E[N - cap | N > cap] P(N > cap) / lam.

        Near capacity the batch fluctuates upwards (the rate curve flattens), which a
        deterministic fluid solution (rate(b) = lam) misses: that is why measured server
        TPOTs at 85-97 % load are close to the offline ones.  Vectorised over layouts:
        ``cap`` and ``lam`` broadcast; up to ``QUEUE_CELLS`` cells of the batch axis."""
        cap = np.asarray(cap, dtype=float)
        lam = np.asarray(lam, dtype=float) + 0.0 * cap
        # step time on a geometric grid of batch sizes 1..cap (one vectorised evaluation)
        geo = np.maximum(cap[..., None] * SERVER_GRID, 1.0)
        sub = Instance(model=self.model, lay=self.lay.expand(), pf=self.pf, isl=self.isl, osl=self.osl)
        t_geo = sub.mean_step(geo, geo / self.osl)["mean"]
        # cells of the batch axis: one per integer batch up to INTEGER_CELLS (the light-load
        # end, where the rate changes fastest, is the exact chain), then equal wide cells up
        # to cap; a fractional remainder of cap is one narrow cell
        ints = np.minimum(np.floor(np.maximum(cap, 1.0)), INTEGER_CELLS)
        rest = np.maximum(cap - ints, 0.0)
        n_rest = np.where(cap > INTEGER_CELLS, QUEUE_CELLS - INTEGER_CELLS, np.where(rest > 1e-9, 1.0, 0.0))
        w_rest = rest / np.maximum(n_rest, 1.0)
        cells = ints + n_rest
        idx = np.arange(1, QUEUE_CELLS + 1, dtype=float)
        in_int = idx <= ints[..., None]
        width = np.where(in_int, 1.0, w_rest[..., None])
        n = np.where(in_int, idx, ints[..., None] + (idx - ints[..., None]) * w_rest[..., None])
        live = idx <= cells[..., None]
        n = np.where(live, n, cap[..., None])                        # batch at the end of each cell
        t_n = np.exp(_interp_last(np.log(n), np.log(geo), np.log(t_geo)))
        rate = n / (t_n * self.osl)                                  # completions per second
        with np.errstate(divide="ignore"):                         # lam = 0: an empty server
            log_step = np.where(live, np.log(lam[..., None] / rate) * width, 0.0)
        log_pi = np.cumsum(log_step, axis=-1)
        shift = np.maximum(np.max(np.where(live, log_pi, -np.inf), axis=-1), 0.0)[..., None]
        pi = np.where(live, np.exp(log_pi - shift), 0.0) * width
        p0 = np.exp(-shift[..., 0])                                  # the empty state
        r_cap = cap / (t_geo[..., -1] * self.osl)
        rho = lam / r_cap
        saturated = rho >= 1.0
        rho_s = np.minimum(rho, 1.0 - 1e-9)
        last = (cells[..., None] - 1).astype(int)
        pi_cap = (np.take_along_axis(pi, last, -1) / np.take_along_axis(width, last, -1))[..., 0]
        tail = pi_cap * rho_s / (1.0 - rho_s)                        # states beyond cap (queue)
        z = p0 + pi.sum(-1) + tail
        mean_b = ((pi * n).sum(-1) + cap * tail) / z
        queued = pi_cap * rho_s / (1.0 - rho_s) ** 2 / z
        return {"batch": np.where(saturated, cap, mean_b), "queue_wait": np.where(saturated, np.inf, queued / lam),
                "tpot": np.where(saturated, t_geo[..., -1], mean_b / (lam * self.osl)),
                "capacity": r_cap, "saturated": saturated}


def _interp_last(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp along the last axis for stacked (broadcast) rows; clamped at the ends."""
    xp, fp = np.broadcast_arrays(xp, fp)
    x = np.broadcast_to(x, xp.shape[:-1] + x.shape[-1:])
    j = np.clip(np.sum(xp[..., None, :] <= x[..., :, None], axis=-1) - 1, 0, xp.shape[-1] - 2)
    x0, x1 = np.take_along_axis(xp, j, -1), np.take_along_axis(xp, j + 1, -1)
    f0, f1 = np.take_along_axis(fp, j, -1), np.take_along_axis(fp, j + 1, -1)
    w = np.clip((x - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.0, 1.0)
    return f0 + w * (f1 - f0)


QUEUE_CELLS = 1024   # cells of the batch axis in the server queue
INTEGER_CELLS = 512  # of which one per integer batch 1..512; wider cells above


@dataclass(frozen=True, kw_only=True)
class ServingResult:
    """Predicted serving performance of one deployment under one workload.

    Times in seconds, rates per accelerator of the whole deployment.
    ``batch`` is the mean number of sequences decoding per instance.
    ``saturated``: the offered load exceeds what the deployment sustains
    (``capacity_req_s``); the queue then grows without bound, so ``ttft_s`` is
    ``None`` (no finite mean exists) and throughput is the capacity.
    """

    scenario: str
    batch: float
    ttft_s: float | None
    tpot_s: float
    output_tok_s_per_gpu: float
    total_tok_s_per_gpu: float
    input_tok_s_per_gpu: float
    max_concurrency: float          # sequences the whole deployment can hold
    capacity_req_s: float           # requests/s the whole deployment sustains at its batch limit
    memory: MemoryPlan
    decode_breakdown_s: dict[str, float] = field(default_factory=dict)
    prefill_breakdown_s: dict[str, float] = field(default_factory=dict)
    saturated: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def bound(self) -> str:
        """Dominant op of a decode step (where time goes)."""
        if not self.decode_breakdown_s:
            return "unknown"
        return max(self.decode_breakdown_s.items(), key=lambda kv: kv[1])[0]


def _scalar(x: Any) -> float:
    try:
        return float(x)            # Python and numpy scalars, 0-d arrays
    except TypeError:
        return float(np.asarray(x, dtype=float).reshape(-1)[0])


def _scalar_plan(plan: MemoryPlan) -> MemoryPlan:
    return MemoryPlan(capacity_bytes=_scalar(plan.capacity_bytes), weights_bytes=_scalar(plan.weights_bytes),
                      workspace_bytes=_scalar(plan.workspace_bytes), kv_free_bytes=_scalar(plan.kv_free_bytes),
                      kv_bytes_per_seq=_scalar(plan.kv_bytes_per_seq),
                      max_seqs_per_instance=_scalar(plan.max_seqs_per_instance))


def _rows(parts: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Split per-op arrays of ``n`` stacked step evaluations into one dict per step."""
    names = list(parts)
    mat = np.empty((len(names), n))
    for i, v in enumerate(parts.values()):
        mat[i] = v                          # assignment broadcasts a scalar part
    return [dict(zip(names, row)) for row in mat.T.tolist()]


def _steady_once(e: Instance, n_dec: float, prompts: float, waiting: bool, burst: float = 0.0,
                 cap: float | None = None) -> dict[str, Any]:
    """Mean step with ``n_dec`` decoders admitting ``prompts`` prompts per step, and
    the TTFT of a newcomer (the running step's residual if ``waiting``, then its
    own prompt's chunk steps next to ``n_dec - 1`` decoders), from one call
    evaluating the decode step, the prompt lump, the newcomer's chunk step, an
    isolated prefill (for the breakdown), one chunk step of a burst of ``burst``
    prompts arriving together (next to half of them already decoding) and --
    with ``cap`` -- the steady state at the batch limit (the capacity, in
    requests/s of the instance)."""
    others = max(n_dec - 1.0, 0.0)
    lump = max(prompts, 1.0)
    c1, tok1, seq1, pre1, done1 = (_scalar(v) for v in e.prompt_load(1.0))
    cb, tokb, seqb, preb, doneb = (_scalar(v) for v in e.prompt_load(max(burst, 1.0)))
    full = cap if cap is not None else n_dec
    lump_cap = max(full / e.osl, 1.0)
    n = np.array([n_dec, n_dec, others, 0.0, burst / 2.0, full, full])
    parts = e.parts(n, np.array([0.0, lump * e.isl, tok1, e.isl, tokb, 0.0, lump_cap * e.isl]),
                    np.array([0.0, lump, seq1, 1.0, seqb, 0.0, lump_cap]), np.array([0.0, 0.0, pre1, 0.0, preb, 0.0, 0.0]),
                    n + np.array([0.0, lump, done1, 1.0, doneb, 0.0, lump_cap]))
    rows = _rows(parts, 7)
    m = e.combine(rows[0], rows[1], prompts)
    at_cap = e.combine(rows[5], rows[6], full / e.osl)
    prompt = c1 * sum(rows[2].values())
    wait = m["residual"] if waiting else 0.0
    # a burst's prompts finish spread over its chunk steps: mean completion (c + 1) / (2c) of the total
    burst_ttft = cb * sum(rows[4].values()) * (cb + 1.0) / (2.0 * cb)
    return {"tpot": m["mean"], "ttft": e.pf.runtime.request_s + wait + prompt, "parts": m["parts"],
            "prefill": rows[3], "burst_ttft": e.pf.runtime.request_s + burst_ttft,
            "capacity": full / _scalar(at_cap["mean"]) / e.osl}


def predict_serving(model: ModelSpec, lay: Layout, pf: Platform, wl: Workload) -> ServingResult:
    """Predict one deployment (a size-one Layout) under one workload (see module docstring)."""
    e = Instance(model=model, lay=lay, pf=pf, isl=float(wl.isl), osl=float(wl.osl))
    rt = pf.runtime
    warnings: list[str] = []
    plan, one = (_scalar_plan(p) for p in e.plans())
    if not one.fits:
        warnings.append(f"does not fit: {one.shortfall_bytes / 1e9:.1f} GB per accelerator short "
                        f"(weights {one.weights_bytes / 1e9:.1f} GB + workspace + one sequence's KV "
                        f"vs {one.capacity_bytes / 1e9:.1f} GB usable)")
    cap = _scalar(e.batch_cap(plan))
    replicas = max(1, int(lay.scalar("replicas")))
    gpus = lay.scalar("gpus")
    scen = wl.scenario
    saturated = False
    isl, osl = e.isl, e.osl
    prefill: dict[str, Any] | None = None   # isolated prefill breakdown, when already evaluated
    ttft: float | None

    if scen in ("fixed-concurrency", "single-request") or (scen == "offline" and wl.num_requests):
        # closed loop: ``conc`` requests in flight over ``active`` instances (offline with a
        # known number of requests: the engine's own batch limit is the concurrency)
        conc = (float(wl.concurrency or 1.0) if scen != "offline"
                else min(cap * replicas, float(wl.num_requests or 0.0)))
        active = min(float(replicas), conc)
        b_req = conc / active
        b = min(b_req, cap)
        n_req = float(wl.num_requests) / active if wl.num_requests else None
        wave = min(n_req, b) if n_req else 0.0
        m = _steady_once(e, b, max(b - 1.0, 0.0) / osl, b > 1.0, burst=wave, cap=cap)
        tpot, ttft_ss, parts, prefill = _scalar(m["tpot"]), _scalar(m["ttft"]), m["parts"], m["prefill"]
        capacity = m["capacity"] * replicas
        cycle = ttft_ss + (osl - 1.0) * tpot
        req_rate = active * b / cycle
        # beyond the batch limit the excess waits in the queue: b_req / b - 1 cycles (Little's law)
        over = max(b_req / b - 1.0, 0.0)
        ttft = ttft_ss + (over * cycle if scen != "offline" else 0.0)
        if b_req > b and scen != "offline":
            saturated = True
            warnings.append(f"concurrency {conc:g} exceeds what {replicas} instance(s) hold ({cap * replicas:.0f}); "
                            f"the rest queue")
        if n_req:
            # the first requests arrive at once (initial burst: their prompts share the first
            # steps); the others start as earlier ones finish.  Offline, request j waits
            # floor(j / b) whole cycles for a slot.
            burst = _scalar(m["burst_ttft"])
            waves = n_req / b
            later = max(n_req - wave, 0.0)
            queue = cycle * waves / 2.0 if scen == "offline" else 0.0
            ttft = (wave * burst + later * (ttft + queue)) / n_req
            duration = max(waves, 1.0) * cycle + max(0.0, burst - ttft_ss)
            req_rate = active * n_req / duration
        out, inp = req_rate * osl / gpus, req_rate * isl / gpus
        total = out + inp
    elif scen == "decode-only":
        cap = _scalar(e.batch_cap(plan, decode_only=True))
        b = min(float(wl.concurrency) / replicas, cap) if wl.concurrency else cap
        parts = e.parts(b)
        tpot = _scalar(sum(parts.values()))
        ttft = rt.request_s + _scalar(e.prompt_time(0.0))
        out = b / tpot * replicas / gpus
        capacity = out * gpus / osl
        total, inp = out, 0.0
    elif scen == "prefill-only":
        seqs = float(wl.concurrency) / replicas if wl.concurrency else max(1.0, e.limits.max_batched_tokens / isl)
        t_prompt = _scalar(e.prompt_time(0.0, seqs))
        ttft = rt.request_s + t_prompt
        out = seqs / t_prompt * replicas / gpus
        capacity = out * gpus
        inp = out * isl
        total = inp + out
        b = 0.0
        parts = e.parts(1.0)
        tpot = _scalar(sum(parts.values()))
    else:  # offline (unknown request count) or server: steady state of a saturated or Poisson-loaded engine
        queue_wait = 0.0
        rate_req_s = float(wl.request_rate or 0.0)  # whole deployment; Workload requires it for "server"
        if scen == "server":
            lam = rate_req_s / replicas
            q = e.server_queue(np.asarray(cap), np.asarray(lam))
            b, saturated = _scalar(q["batch"]), bool(np.asarray(q["saturated"]).reshape(-1)[0])
            # a Poisson arrival finds the time-average b others (PASTA) and decodes with them;
            # a full batch already counts it
            n_dec = b if saturated else min(b + 1.0, max(cap, b))
        else:
            b = n_dec = cap
        m = _steady_once(e, n_dec, b / osl, True, cap=cap)
        tpot, ttft, parts, prefill = _scalar(m["tpot"]), _scalar(m["ttft"]), m["parts"], m["prefill"]
        capacity = m["capacity"] * replicas
        if scen == "server" and not saturated:
            # Little's law on the queue model: the token-weighted mean step, and the wait for a slot
            tpot, queue_wait = _scalar(q["tpot"]), _scalar(q["queue_wait"])
            ttft = ttft + queue_wait
        # offline and saturated: the batch is the engine's full batch (n_dec == b)
        inst_rate = b / tpot if scen == "offline" or saturated else rate_req_s / replicas * osl
        if saturated:
            ttft = None
            warnings.append(f"saturated: {wl.request_rate:g} req/s exceeds the predicted capacity "
                            f"{capacity:.3g} req/s; the queue grows without bound (no finite TTFT)")
        out = inst_rate * replicas / gpus
        total = out * (isl + osl) / osl
        inp = out * isl / osl
        if scen == "offline":
            warnings.append("offline TTFT shown is for a request admitted into the running batch; "
                            "give the number of requests (num_requests) for a burst's mean TTFT")

    return ServingResult(
        scenario=scen, batch=float(b), ttft_s=None if ttft is None else float(ttft), tpot_s=tpot,
        output_tok_s_per_gpu=float(out), total_tok_s_per_gpu=float(total), input_tok_s_per_gpu=float(inp),
        max_concurrency=float(plan.max_seqs_per_instance * replicas), capacity_req_s=float(capacity), memory=plan,
        decode_breakdown_s={k: _scalar(v) for k, v in parts.items()},
        prefill_breakdown_s={k: _scalar(v) for k, v in (prefill or e.parts(0.0, isl, 1.0)).items()},
        saturated=saturated, warnings=tuple(warnings),
    )


__all__ = ["Instance", "ServingResult", "predict_serving"]
