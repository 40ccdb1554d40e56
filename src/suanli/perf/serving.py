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
  ``TTFT ~ overhead + 0.5 t_ss + t_mixed`` (the "documented queueing
  approximation"; a request-level simulator is in ``perf.simulate`` later).
* prefill-only / decode-only: one phase in isolation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suanli.perf.efficiency import Efficiency
from suanli.perf.hardware import HwParams
from suanli.perf.memory import MemoryPlan, plan_memory, weights_per_gpu
from suanli.perf.step import OPS, StepLoad, chunks, step_breakdown, step_time
from suanli.specs.deployment import Deployment, Workload
from suanli.specs.model import ModelSpec


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


def _scalar_parts(parts: dict[str, Any]) -> dict[str, float]:
    return {k: float(np.asarray(parts[k]).reshape(-1)[0]) for k in OPS}


class _Ctx:
    """Per-call constants shared by the scenario functions."""

    def __init__(self, model: ModelSpec, dep: Deployment, hw: HwParams, eff: Efficiency, wl: Workload) -> None:
        self.model, self.dep, self.hw, self.eff, self.wl = model, dep, hw, eff, wl
        self.isl, self.osl = float(wl.isl), float(wl.osl)
        self.ctx_dec = self.isl + self.osl / 2.0
        self.budget = eff.limits.max_batched_tokens

    def steady(self, b: Any, *, others: bool = False) -> StepLoad:
        """Steady-state mixed step with ``b`` decoders; ``others`` counts only
        the prompts of the other b-1 requests (what one request's decode sees)."""
        b = np.asarray(b, dtype=float)
        n = np.maximum(b - 1.0, 0.0) if others else b
        n_pf = n * self.isl / self.osl
        return StepLoad(n_dec=b, ctx_dec=self.ctx_dec, n_pf=n_pf, ctx_pf=self.isl / 2.0, n_pf_seqs=n / self.osl)

    def t(self, load: StepLoad) -> Any:
        return step_time(self.model, self.dep, self.hw, self.eff, load)

    def prefill_time(self, n_dec: float, seqs: float = 1.0) -> float:
        """Time to prefill ``seqs`` prompts while ``n_dec`` sequences keep decoding."""
        tokens = seqs * self.isl
        n_chunks = chunks(tokens, self.budget)
        load = StepLoad(n_dec=n_dec, ctx_dec=self.ctx_dec, n_pf=tokens, ctx_pf=self.isl / 2.0, n_pf_seqs=seqs)
        t = float(self.t(load))
        if n_chunks > 1:  # every extra chunk is one more pass over the weights + fixed costs
            t += (n_chunks - 1) * float(self.t(StepLoad(n_dec=n_dec, ctx_dec=self.ctx_dec)))
        return t

    def ttft(self, b: float, t_step: float) -> float:
        wait = 0.5 * t_step if b > 1.0 else 0.0
        return self.eff.request_overhead_s + wait + self.prefill_time(max(b - 1.0, 0.0))


def _batch_cap(c: _Ctx, plan: MemoryPlan) -> float:
    lim = c.eff.limits
    by_budget = lim.max_batched_tokens * c.osl / (c.osl + c.isl) + 1.0
    return max(1.0, min(lim.max_seqs * c.dep.attn_dp, plan.max_seqs_per_instance, by_budget))


def predict_serving(model: ModelSpec, dep: Deployment, hw: HwParams, eff: Efficiency, wl: Workload,
                    ) -> ServingResult:
    """Predict one deployment under one workload (see module docstring)."""
    c = _Ctx(model, dep, hw, eff, wl)
    warnings: list[str] = []
    lim = eff.limits
    plan = plan_memory(model, dep, memory=hw.memory, mem_fraction=lim.mem_fraction,
                       workspace=lim.workspace_bytes, context=c.ctx_dec)
    one_seq = plan_memory(model, dep, memory=hw.memory, mem_fraction=lim.mem_fraction,
                          workspace=lim.workspace_bytes, context=c.isl + c.osl)
    if not one_seq.fits:
        warnings.append(f"does not fit: {one_seq.shortfall / 1e9:.1f} GB per accelerator short "
                        f"(weights {one_seq.weights / 1e9:.1f} GB + workspace + one sequence's KV "
                        f"vs {one_seq.capacity / 1e9:.1f} GB usable)")
    cap = _batch_cap(c, plan)
    replicas = dep.replicas
    scen = wl.scenario
    saturated = False

    if scen in ("fixed-concurrency", "single-request"):
        conc = float(wl.concurrency or 1.0)
        active = min(float(replicas), conc)
        b_req = conc / active
        b = min(b_req, cap)
        tpot = float(c.t(c.steady(b, others=True)))
        ttft = c.ttft(b, tpot)
        cycle = ttft + (c.osl - 1.0) * tpot
        if b_req > b:  # closed loop beyond capacity: the excess waits in the queue
            saturated = True
            ttft += cycle * (b_req / b - 1.0)
            warnings.append(f"concurrency {conc:g} exceeds what {replicas} instance(s) hold ({cap * replicas:.0f}); "
                            f"the rest queue")
        req_rate = active * b / cycle
        out = req_rate * c.osl / dep.gpus
        total = req_rate * (c.osl + c.isl) / dep.gpus
        inp = req_rate * c.isl / dep.gpus
        dec_parts = step_breakdown(model, dep, hw, eff, c.steady(b, others=True))
    elif scen == "decode-only":
        b = min(float(wl.concurrency) / replicas, cap) if wl.concurrency else cap
        load = StepLoad(n_dec=b, ctx_dec=c.isl)
        tpot = float(c.t(load))
        ttft = c.ttft(b, tpot)
        out = b / tpot * replicas / dep.gpus
        total, inp = out, 0.0
        dec_parts = step_breakdown(model, dep, hw, eff, load)
    elif scen == "prefill-only":
        seqs = float(wl.concurrency) / replicas if wl.concurrency else max(1.0, c.budget / c.isl)
        t_pf = c.prefill_time(0.0, seqs)
        ttft = eff.request_overhead_s + t_pf
        inp = seqs * c.isl / t_pf * replicas / dep.gpus
        total = inp + seqs / t_pf * replicas / dep.gpus
        out = seqs / t_pf * replicas / dep.gpus
        b = 0.0
        tpot = float(c.t(StepLoad(n_dec=1.0, ctx_dec=c.isl)))
        dec_parts = step_breakdown(model, dep, hw, eff, StepLoad(n_dec=1.0, ctx_dec=c.isl))
    else:  # offline or server: steady state of a saturated or Poisson-loaded engine
        if scen == "server":
            target = float(wl.request_rate) / replicas * c.osl   # output tokens/s one instance must emit
            grid = np.geomspace(1e-3, cap, 96)
            rate = grid / c.t(c.steady(grid))
            if rate[-1] < target:
                saturated = True
                b = cap
                warnings.append(f"overloaded: {wl.request_rate:g} req/s exceeds the predicted capacity "
                                f"{rate[-1] * replicas / c.osl:.2f} req/s; queues grow without bound")
            else:
                i = int(np.searchsorted(rate, target))
                if i == 0:
                    b = float(grid[0])
                else:  # log-linear interpolation between grid points
                    f = (np.log(target) - np.log(rate[i - 1])) / (np.log(rate[i]) - np.log(rate[i - 1]))
                    b = float(np.exp(np.log(grid[i - 1]) + f * (np.log(grid[i]) - np.log(grid[i - 1]))))
        else:
            b = cap
        t_ss = float(c.t(c.steady(b)))
        tpot = t_ss
        inst_rate = b / t_ss  # output tokens/s of one instance
        if scen == "server" and not saturated:
            inst_rate = float(wl.request_rate) / replicas * c.osl
        ttft = c.ttft(b, t_ss)
        out = inst_rate * replicas / dep.gpus
        total = out * (c.isl + c.osl) / c.osl
        inp = out * c.isl / c.osl
        dec_parts = step_breakdown(model, dep, hw, eff, c.steady(b))
        if scen == "offline":
            warnings.append("offline TTFT shown is for a request admitted into the running batch; "
                            "a burst's mean TTFT also includes waiting for a slot")

    pf_parts = step_breakdown(model, dep, hw, eff, StepLoad(n_pf=c.isl, ctx_pf=c.isl / 2.0, n_pf_seqs=1.0))
    return ServingResult(
        scenario=scen, batch=float(b), ttft_s=float(ttft), tpot_s=float(tpot),
        output_tok_s_per_gpu=float(out), total_tok_s_per_gpu=float(total), input_tok_s_per_gpu=float(inp),
        max_concurrency=float(plan.max_seqs_per_instance * replicas), memory=plan,
        decode_breakdown=_scalar_parts(dec_parts), prefill_breakdown=_scalar_parts(pf_parts),
        saturated=saturated, warnings=tuple(warnings),
    )


__all__ = ["ServingResult", "predict_serving", "weights_per_gpu"]
