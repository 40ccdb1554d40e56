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

from suanli.perf.efficiency import Efficiency
from suanli.perf.hardware import HwParams
from suanli.perf.layout import Layout, layout_of
from suanli.perf.memory import MemoryPlan, plan_memory, weights_per_gpu
from suanli.perf.step import StepLoad, step_breakdown, step_time
from suanli.specs.deployment import Deployment, Workload
from suanli.specs.model import ModelSpec

SERVER_GRID = np.geomspace(1e-4, 1.0, 72)   # batch as a share of capacity, for the server solve


@dataclass(frozen=True, kw_only=True)
class Engine:
    """Everything fixed while batch sizes vary: model, layouts, chip, efficiencies, lengths."""

    model: ModelSpec
    lay: Layout
    hw: HwParams
    eff: Efficiency
    isl: float
    osl: float

    @property
    def ctx_dec(self) -> float:
        return self.isl + self.osl / 2.0

    def t(self, load: StepLoad) -> Any:
        return step_time(self.model, self.lay, self.hw, self.eff, load)

    def parts(self, n_dec: Any, n_pf: Any = 0.0, seqs: Any = 0.0) -> dict[str, Any]:
        """Per-op seconds of one step: ``n_dec`` decodes plus ``n_pf`` prompt tokens of ``seqs`` prompts."""
        return step_breakdown(self.model, self.lay, self.hw, self.eff,
                              StepLoad(n_dec=n_dec, ctx_dec=self.ctx_dec, n_pf=n_pf, ctx_pf=self.isl / 2.0,
                                       n_pf_seqs=seqs))

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
        chunks = np.maximum(1.0, np.ceil(lump * self.isl / self.eff.limits.max_batched_tokens))
        t_chunk = t_dec + (t_big - t_dec) / chunks
        f = np.minimum(1.0, share * chunks)                       # share of steps carrying prompt tokens
        residual = ((1.0 - f) * t_dec ** 2 + f * t_chunk ** 2) / (2.0 * ((1.0 - f) * t_dec + f * t_chunk))
        return {"mean": mean, "residual": residual, "t_dec": t_dec, "t_big": t_big,
                "parts": {k: dec[k] + share * (big[k] - dec[k]) for k in dec}}

    def prompt_time(self, n_dec: Any, seqs: Any = 1.0) -> Any:
        """Time from a prompt's first scheduled step to its first token, ``seqs``
        prompts together, while ``n_dec`` sequences keep decoding: one step with
        all its tokens plus one decode step per further chunk."""
        tokens = np.asarray(seqs, dtype=float) * self.isl
        n_chunks = np.maximum(1.0, np.ceil(tokens / self.eff.limits.max_batched_tokens))
        full = sum(self.parts(n_dec, tokens, seqs).values())
        if not np.any(n_chunks > 1.0):
            return full
        return full + (n_chunks - 1.0) * sum(self.parts(n_dec).values())

    def closed_loop(self, b: Any) -> dict[str, Any]:
        """Metrics with ``b`` requests in flight per instance (closed loop): a
        request decodes next to ``b-1`` others, whose prompts come back every
        ``osl`` steps; its own prompt waits for the running step, then runs."""
        b = np.asarray(b, dtype=float)
        others = np.maximum(b - 1.0, 0.0)
        m = self.mean_step(b, others / self.osl)
        wait = np.where(b > 1.0, m["residual"], 0.0)
        ttft = self.eff.request_overhead_s + wait + self.prompt_time(others)
        cycle = ttft + (self.osl - 1.0) * m["mean"]
        return {"tpot": m["mean"], "ttft": ttft, "req_rate": b / cycle, "parts": m["parts"]}

    def plans(self) -> tuple[MemoryPlan, MemoryPlan]:
        lim = self.eff.limits
        kw = dict(memory=self.hw.memory, mem_fraction=lim.mem_fraction, workspace=lim.workspace_bytes,
                  weights=weights_per_gpu(self.model, self.lay).total)
        return (plan_memory(self.model, self.lay, context=self.ctx_dec, **kw),
                plan_memory(self.model, self.lay, context=self.isl + self.osl, **kw))

    def batch_cap(self, plan: MemoryPlan) -> Any:
        """Most sequences one instance decodes together: the engine's sequence
        limit, the KV capacity at the mean context, and the token budget."""
        lim = self.eff.limits
        by_budget = lim.max_batched_tokens * self.osl / (self.osl + self.isl) + 1.0
        return np.maximum(1.0, np.minimum(np.minimum(lim.max_seqs * self.lay.attn_dp, plan.max_seqs_per_instance),
                                          by_budget))

    def server_batch(self, cap: Any, target: Any) -> tuple[Any, Any]:
        """Batch per instance where the output rate meets ``target`` tokens/s
        (log-linear interpolation on a grid); ``saturated`` where it cannot."""
        cap = np.asarray(cap, dtype=float)
        grid = cap[..., None] * SERVER_GRID
        sub = Engine(model=self.model, lay=self.lay.expand(), hw=self.hw, eff=self.eff, isl=self.isl, osl=self.osl)
        rate = grid / sub.mean_step(grid, grid / self.osl)["mean"]
        target = np.asarray(target, dtype=float)[..., None] * np.ones_like(rate[..., :1])
        saturated = rate[..., -1] < target[..., 0]
        i = np.clip(np.argmax(rate >= target, axis=-1), 1, len(SERVER_GRID) - 1)[..., None]
        r0, r1 = np.take_along_axis(rate, i - 1, -1), np.take_along_axis(rate, i, -1)
        g0, g1 = np.take_along_axis(grid, i - 1, -1), np.take_along_axis(grid, i, -1)
        f = np.clip((np.log(target) - np.log(r0)) / np.maximum(np.log(r1) - np.log(r0), 1e-12), 0.0, 1.0)
        b = np.exp(np.log(g0) + f * (np.log(g1) - np.log(g0)))[..., 0]
        b = np.where(rate[..., 0] >= target[..., 0], grid[..., 0], b)
        return np.where(saturated, cap, b), saturated


@dataclass(frozen=True, kw_only=True)
class ServingResult:
    """Predicted serving performance of one deployment under one workload.

    Times in seconds, rates per accelerator of the whole deployment.
    ``batch`` is the mean number of sequences decoding per instance.
    """

    scenario: str
    batch: float
    ttft_s: float
    tpot_s: float
    output_tok_s_per_gpu: float
    total_tok_s_per_gpu: float
    input_tok_s_per_gpu: float
    max_concurrency: float          # sequences the whole deployment can hold
    memory: MemoryPlan
    decode_breakdown: dict[str, float] = field(default_factory=dict)
    prefill_breakdown: dict[str, float] = field(default_factory=dict)
    saturated: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def bound(self) -> str:
        """Dominant op of a decode step (where time goes)."""
        if not self.decode_breakdown:
            return "unknown"
        return max(self.decode_breakdown.items(), key=lambda kv: kv[1])[0]


def _f(x: Any) -> float:
    try:
        return float(x)            # Python and numpy scalars, 0-d arrays
    except TypeError:
        return float(np.asarray(x, dtype=float).reshape(-1)[0])


def _scalar_plan(plan: MemoryPlan) -> MemoryPlan:
    return MemoryPlan(capacity=_f(plan.capacity), weights=_f(plan.weights), workspace=_f(plan.workspace),
                      kv_free=_f(plan.kv_free), kv_per_seq=_f(plan.kv_per_seq),
                      max_seqs_per_instance=_f(plan.max_seqs_per_instance))


def _rows(parts: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Split per-op arrays of ``n`` stacked step evaluations into one dict per step."""
    cols = {name: np.broadcast_to(v, (n,)) for name, v in parts.items()}
    return [{name: c[k] for name, c in cols.items()} for k in range(n)]


def _steady_once(e: Engine, n_dec: float, prompts: float, waiting: bool) -> dict[str, Any]:
    """Mean step with ``n_dec`` decoders admitting ``prompts`` prompts per step, and
    the TTFT of a newcomer (the running step's residual if ``waiting``, then its
    own prompt next to ``n_dec - 1`` decoders), from one call evaluating the
    decode step, the prompt lump, the newcomer's prompt step, the decoders alone
    (per extra chunk) and an isolated prefill (for the breakdown)."""
    others = max(n_dec - 1.0, 0.0)
    lump = max(prompts, 1.0)
    parts = e.parts(np.array([n_dec, n_dec, others, others, 0.0]),
                    np.array([0.0, lump * e.isl, e.isl, 0.0, e.isl]), np.array([0.0, lump, 1.0, 0.0, 1.0]))
    rows = _rows(parts, 5)
    m = e.combine(rows[0], rows[1], prompts)
    chunks = max(1.0, float(np.ceil(e.isl / e.eff.limits.max_batched_tokens)))
    prompt = sum(rows[2].values()) + (chunks - 1.0) * sum(rows[3].values())
    wait = m["residual"] if waiting else 0.0
    return {"tpot": m["mean"], "ttft": e.eff.request_overhead_s + wait + prompt, "parts": m["parts"],
            "prefill": rows[4]}


def _closed_loop_once(e: Engine, b: float) -> dict[str, Any]:
    """:meth:`Engine.closed_loop` for one batch size in one step evaluation."""
    return _steady_once(e, b, max(b - 1.0, 0.0) / e.osl, b > 1.0)


def predict_serving(model: ModelSpec, dep: Deployment, hw: HwParams, eff: Efficiency, wl: Workload,
                    ) -> ServingResult:
    """Predict one deployment under one workload (see module docstring)."""
    lay = layout_of(model, dep, hw.peak_gemm, hw.peak_attn)
    e = Engine(model=model, lay=lay, hw=hw, eff=eff, isl=float(wl.isl), osl=float(wl.osl))
    warnings: list[str] = []
    plan, one = (_scalar_plan(p) for p in e.plans())
    if not one.fits:
        warnings.append(f"does not fit: {one.shortfall / 1e9:.1f} GB per accelerator short "
                        f"(weights {one.weights / 1e9:.1f} GB + workspace + one sequence's KV "
                        f"vs {one.capacity / 1e9:.1f} GB usable)")
    cap = _f(e.batch_cap(plan))
    replicas = dep.replicas
    scen = wl.scenario
    saturated = False
    isl, osl = e.isl, e.osl
    prefill: dict[str, Any] | None = None   # isolated prefill breakdown, when already evaluated

    if scen in ("fixed-concurrency", "single-request"):
        conc = float(wl.concurrency or 1.0)
        active = min(float(replicas), conc)
        b_req = conc / active
        b = min(b_req, cap)
        m = _closed_loop_once(e, b)
        tpot, ttft, parts, prefill = _f(m["tpot"]), _f(m["ttft"]), m["parts"], m["prefill"]
        cycle = ttft + (osl - 1.0) * tpot
        req_rate = active * b / cycle
        if b_req > b:  # closed loop beyond capacity: the excess waits in the queue
            saturated = True
            ttft += cycle * (b_req / b - 1.0)
            warnings.append(f"concurrency {conc:g} exceeds what {replicas} instance(s) hold ({cap * replicas:.0f}); "
                            f"the rest queue")
        out, inp = req_rate * osl / dep.gpus, req_rate * isl / dep.gpus
        total = out + inp
    elif scen == "decode-only":
        b = min(float(wl.concurrency) / replicas, cap) if wl.concurrency else cap
        parts = step_breakdown(model, lay, hw, eff, StepLoad(n_dec=b, ctx_dec=isl))
        tpot = _f(sum(parts.values()))
        ttft = eff.request_overhead_s + _f(e.prompt_time(0.0))
        out = b / tpot * replicas / dep.gpus
        total, inp = out, 0.0
    elif scen == "prefill-only":
        seqs = float(wl.concurrency) / replicas if wl.concurrency else max(1.0, eff.limits.max_batched_tokens / isl)
        t_prompt = _f(e.prompt_time(0.0, seqs))
        ttft = eff.request_overhead_s + t_prompt
        out = seqs / t_prompt * replicas / dep.gpus
        inp = out * isl
        total = inp + out
        b = 0.0
        parts = step_breakdown(model, lay, hw, eff, StepLoad(n_dec=1.0, ctx_dec=isl))
        tpot = _f(sum(parts.values()))
    else:  # offline or server: steady state of a saturated or Poisson-loaded engine
        if scen == "server":
            target = float(wl.request_rate) / replicas * osl   # output tokens/s one instance must emit
            b_arr, sat = e.server_batch(np.asarray([cap]), np.asarray([target]))
            b, saturated = _f(b_arr), bool(np.asarray(sat).reshape(-1)[0])
            # a Poisson arrival finds the time-average b others (PASTA) and decodes with them;
            # a full batch already counts it
            n_dec = b if saturated else min(b + 1.0, max(cap, b))
        else:
            b = n_dec = cap
        m = _steady_once(e, n_dec, b / osl, True)
        tpot, ttft, parts, prefill = _f(m["tpot"]), _f(m["ttft"]), m["parts"], m["prefill"]
        # offline and saturated: the batch is the engine's full batch (n_dec == b)
        inst_rate = b / tpot if scen == "offline" or saturated else float(wl.request_rate) / replicas * osl
        if saturated:
            warnings.append(f"overloaded: {wl.request_rate:g} req/s exceeds the predicted capacity "
                            f"{inst_rate * replicas / osl:.2f} req/s; queues grow without bound")
        out = inst_rate * replicas / dep.gpus
        total = out * (isl + osl) / osl
        inp = out * isl / osl
        if scen == "offline":
            warnings.append("offline TTFT shown is for a request admitted into the running batch; "
                            "a burst's mean TTFT also includes waiting for a slot")

    return ServingResult(
        scenario=scen, batch=float(b), ttft_s=float(ttft), tpot_s=tpot,
        output_tok_s_per_gpu=float(out), total_tok_s_per_gpu=float(total), input_tok_s_per_gpu=float(inp),
        max_concurrency=float(plan.max_seqs_per_instance * replicas), memory=plan,
        decode_breakdown={k: _f(v) for k, v in parts.items()},
        prefill_breakdown={k: _f(v) for k, v in (prefill or e.parts(0.0, isl, 1.0)).items()},
        saturated=saturated, warnings=tuple(warnings),
    )


__all__ = ["Engine", "ServingResult", "predict_serving"]
