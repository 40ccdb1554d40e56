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

    def steady(self, b: Any, *, others: bool = False) -> StepLoad:
        """Steady-state mixed step with ``b`` decoders; ``others`` counts only
        the prompts of the other b-1 requests (what one request's decode sees)."""
        b = np.asarray(b, dtype=float)
        n = np.maximum(b - 1.0, 0.0) if others else b
        return StepLoad(n_dec=b, ctx_dec=self.ctx_dec, n_pf=n * self.isl / self.osl, ctx_pf=self.isl / 2.0,
                        n_pf_seqs=n / self.osl)

    def prefill_time(self, n_dec: Any, seqs: Any = 1.0) -> Any:
        """Time to prefill ``seqs`` prompts while ``n_dec`` sequences keep decoding;
        every chunk beyond the first costs one more pass over the weights."""
        tokens = np.asarray(seqs, dtype=float) * self.isl
        n_chunks = np.maximum(1.0, np.ceil(tokens / self.eff.limits.max_batched_tokens))
        full = self.t(StepLoad(n_dec=n_dec, ctx_dec=self.ctx_dec, n_pf=tokens, ctx_pf=self.isl / 2.0,
                               n_pf_seqs=seqs))
        if not np.any(n_chunks > 1.0):
            return full
        extra = self.t(StepLoad(n_dec=n_dec, ctx_dec=self.ctx_dec))
        return full + (n_chunks - 1.0) * extra

    def ttft(self, b: Any, t_step: Any) -> Any:
        b = np.asarray(b, dtype=float)
        wait = np.where(b > 1.0, 0.5 * t_step, 0.0)
        return self.eff.request_overhead_s + wait + self.prefill_time(np.maximum(b - 1.0, 0.0))

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

    def closed_loop(self, b: Any) -> dict[str, Any]:
        """Metrics with ``b`` requests in flight per instance (closed loop)."""
        tpot = self.t(self.steady(b, others=True))
        ttft = self.ttft(b, tpot)
        cycle = ttft + (self.osl - 1.0) * tpot
        return {"tpot": tpot, "ttft": ttft, "req_rate": b / cycle}

    def server_batch(self, cap: Any, target: Any) -> tuple[Any, Any]:
        """Batch per instance where the output rate meets ``target`` tokens/s
        (log-linear interpolation on a grid); ``saturated`` where it cannot."""
        cap = np.asarray(cap, dtype=float)
        grid = cap[..., None] * SERVER_GRID
        sub = Engine(model=self.model, lay=self.lay.expand(), hw=self.hw, eff=self.eff, isl=self.isl, osl=self.osl)
        rate = grid / sub.t(sub.steady(grid))
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
    return float(np.asarray(x, dtype=float).reshape(-1)[0])


def _scalar_plan(plan: MemoryPlan) -> MemoryPlan:
    return MemoryPlan(capacity=_f(plan.capacity), weights=_f(plan.weights), workspace=_f(plan.workspace),
                      kv_free=_f(plan.kv_free), kv_per_seq=_f(plan.kv_per_seq),
                      max_seqs_per_instance=_f(plan.max_seqs_per_instance))


def predict_serving(model: ModelSpec, dep: Deployment, hw: HwParams, eff: Efficiency, wl: Workload,
                    ) -> ServingResult:
    """Predict one deployment under one workload (see module docstring).

    The decode step, the step that carries a new request's prompt, the
    decoders alone (cost of each further prefill chunk) and an isolated
    prefill (for the breakdown) are evaluated in one vectorised call."""
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
    seqs = 1.0                # prompts in the step that carries "our" request's prefill
    active = float(replicas)  # instances with work

    # 1. batch per instance and the decode step that defines TPOT
    if scen in ("fixed-concurrency", "single-request"):
        conc = float(wl.concurrency or 1.0)
        active = min(float(replicas), conc)
        b_req = conc / active
        b = min(b_req, cap)
        n_pf_dec = max(b - 1.0, 0.0)
        dec = (b, e.ctx_dec, n_pf_dec * isl / osl, n_pf_dec / osl)
    elif scen == "decode-only":
        b = min(float(wl.concurrency) / replicas, cap) if wl.concurrency else cap
        dec = (b, isl, 0.0, 0.0)
    elif scen == "prefill-only":
        seqs = float(wl.concurrency) / replicas if wl.concurrency else max(1.0, eff.limits.max_batched_tokens / isl)
        b = 0.0
        dec = (1.0, isl, 0.0, 0.0)
    else:
        if scen == "server":
            target = float(wl.request_rate) / replicas * osl   # output tokens/s one instance must emit
            b_arr, sat = e.server_batch(np.asarray([cap]), np.asarray([target]))
            b, saturated = _f(b_arr), bool(np.asarray(sat).reshape(-1)[0])
            # a Poisson arrival sees the time-average b others (PASTA) and decodes with them:
            # at least one sequence decodes, so light load never beats a lone request
            # (a full batch already counts it)
            dec = (min(b + 1.0, max(cap, b)), e.ctx_dec, b * isl / osl, b / osl)
        else:
            b = cap
            dec = (b, e.ctx_dec, b * isl / osl, b / osl)
    decoders = max(b - 1.0, 0.0)

    # 2. one call: [decode step, prompt step, decoders alone, isolated prefill]
    load = StepLoad(n_dec=np.array([dec[0], decoders, decoders, 0.0]),
                    ctx_dec=np.array([dec[1], e.ctx_dec, e.ctx_dec, e.ctx_dec]),
                    n_pf=np.array([dec[2], seqs * isl, 0.0, isl]), ctx_pf=isl / 2.0,
                    n_pf_seqs=np.array([dec[3], seqs, 0.0, 1.0]))
    parts = step_breakdown(model, lay, hw, eff, load)
    rows = sum(parts.values())
    tpot = float(rows[0])
    n_chunks = max(1.0, float(np.ceil(seqs * isl / eff.limits.max_batched_tokens)))
    t_prompt = float(rows[1]) + (n_chunks - 1.0) * float(rows[2])
    wait = 0.5 * tpot if b > 1.0 else 0.0
    ttft = eff.request_overhead_s + wait + t_prompt

    # 3. rates per accelerator of the whole deployment
    if scen in ("fixed-concurrency", "single-request"):
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
        out = b / tpot * replicas / dep.gpus
        total, inp = out, 0.0
    elif scen == "prefill-only":
        ttft = eff.request_overhead_s + t_prompt
        out = seqs / t_prompt * replicas / dep.gpus
        inp = out * isl
        total = inp + out
    else:
        inst_rate = b / tpot  # output tokens/s of one instance
        if scen == "server" and saturated:
            warnings.append(f"overloaded: {wl.request_rate:g} req/s exceeds the predicted capacity "
                            f"{inst_rate * replicas / osl:.2f} req/s; queues grow without bound")
        elif scen == "server":
            inst_rate = float(wl.request_rate) / replicas * osl
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
        decode_breakdown={k: float(np.asarray(v).reshape(-1)[0]) for k, v in parts.items()},
        prefill_breakdown={k: float(np.asarray(v).reshape(-1)[-1]) for k, v in parts.items()},
        saturated=saturated, warnings=tuple(warnings),
    )


__all__ = ["Engine", "ServingResult", "predict_serving"]
