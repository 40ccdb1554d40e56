"""The layout an operator would run when the user leaves TP/PP/EP/DP blank.

Candidates are the parallel layouts that fit on the given GPUs (replicas fill
the rest): tensor parallel sizes that divide the heads, expert parallelism
over the TP group for MoE models, and -- on SGLang and TensorRT-LLM, whose
deployment guides run large MoE models this way -- attention data
parallelism with expert parallelism.  Pipeline parallelism only when nothing
fits without it.  They are all evaluated at once (vectorised) and ranked by
the scenario's objective:

* offline, decode-only, prefill-only: highest throughput per GPU;
* fixed concurrency / single request: lowest end-to-end latency at that
  concurrency (which is also the highest throughput of a closed loop);
* server (request rate): lowest end-to-end latency among layouts that sustain
  the rate, else the highest capacity.

Sources for the engine practice: SGLang docs "DeepSeek usage" (DP attention +
EP/DeepEP for DeepSeek V3/R1), TensorRT-LLM "Best perf practice on
DeepSeek-R1" (attention DP + EP for max throughput), vLLM docs "Expert
parallel deployment" (``--enable-expert-parallel`` with TP or DP).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from suanli.errors import InvalidInput
from suanli.perf.layout import Layout, Precision, layouts
from suanli.perf.memory import plan_memory
from suanli.perf.opcost import Platform
from suanli.perf.serving import Instance
from suanli.specs.deployment import Deployment, Workload, validate_deployment
from suanli.specs.model import ModelSpec

_POW2 = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# MoE models at least this large run attention-DP + EP on SGLang / TensorRT-LLM when blank
_DP_ATTENTION_MIN_PARAMS = 100e9


@dataclass(frozen=True, kw_only=True)
class LayoutChoice:
    gpus: int
    tp: int
    pp: int
    ep: int
    dp_attention: int
    reason: str


def _candidates(model: ModelSpec, engine: str, gpus: int, pp: int | None, ep: int | None,
                dp: int | None, tp: int | None = None) -> list[tuple[int, int, int, int]]:
    rows: list[tuple[int, int, int, int]] = []
    pps = (pp,) if pp else (1,)
    big_moe = model.is_moe and (model.attention == "mla" or model.params_total >= _DP_ATTENTION_MIN_PARAMS)
    tps = [tp] if tp else sorted(set(_POW2) | {v for v in (ep, dp) if v})  # SGLang: --tp N --dp N for DP attention
    for tp, p in product(tps, pps):
        if tp * p > gpus or gpus % (tp * p):
            continue
        eps = [ep] if ep else ([1, tp] if model.is_moe and tp > 1 else [1])
        for e in dict.fromkeys(eps):
            dps = [dp] if dp else [1]
            if not dp and e == tp and tp > 1 and big_moe and engine in ("sglang", "trtllm"):
                dps.append(tp)
            for d in dps:
                dep = Deployment(gpus=gpus, tp=tp, pp=p, ep=e, dp_attention=d)
                try:
                    validate_deployment(dep, model)
                except InvalidInput:
                    continue
                rows.append((tp, p, e, d))
    return rows


def _describe(tp: int, pp: int, ep: int, dp: int, replicas: int) -> str:
    parts = [f"TP{tp}"]
    if pp > 1:
        parts.append(f"PP{pp}")
    if ep > 1:
        parts.append(f"EP{ep}")
    if dp > 1:
        parts.append(f"attention-DP{dp}")
    text = " ".join(parts)
    return text + (f" x {replicas} replicas" if replicas > 1 else "")


def choose_layout(model: ModelSpec, pf: Platform, prec: Precision, wl: Workload, *, engine: str,
                  gpus: int | None, tp: int | None = None, pp: int | None = None, ep: int | None = None,
                  dp_attention: int | None = None) -> LayoutChoice:
    """The layout for blank TP (and PP/EP/DP when blank) -- see module docstring.  With
    ``tp`` given only the blank fields are chosen (EP / attention-DP of a large MoE model)."""
    lim = pf.runtime.limits
    context = float(wl.isl + wl.osl)

    def fitting(g: int, rows: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, Layout]:
        cols = list(zip(*rows))
        lay = layouts(gpus=[g] * len(rows), tp=cols[0], pp=cols[1], ep=cols[2], dp_attention=cols[3], prec=prec)
        plan = plan_memory(model, lay, memory=pf.hw.memory, mem_fraction=lim.mem_fraction,
                           workspace=lim.workspace_bytes, context=context)
        return np.asarray(plan.fits, dtype=bool).reshape(-1), lay

    if gpus is None:
        probe = tp or dp_attention or 1
        validate_deployment(Deployment(gpus=max(probe, ep or 1) * (pp or 1), tp=probe, pp=pp or 1, ep=ep or 1,
                                       dp_attention=dp_attention or 1), model)
        # no GPU count: the smallest single instance that holds the weights and a full sequence
        for tp in _POW2:
            rows = _candidates(model, engine, tp * (pp or 1), pp, ep, dp_attention)
            rows = [r for r in rows if r[0] == tp]
            if not rows:
                continue
            ok, _ = fitting(tp * (pp or 1), rows)
            if ok.any():
                t, p, e, d = rows[int(np.argmax(ok))]
                return LayoutChoice(gpus=t * p, tp=t, pp=p, ep=e, dp_attention=d,
                                    reason=f"layout chosen by suanli: {_describe(t, p, e, d, 1)}, the smallest "
                                           f"tensor-parallel instance that fits (no GPU count given)")
        raise InvalidInput(f"{model.id} does not fit on up to 256 accelerators of this kind", field="gpus")

    if gpus < 1:
        raise InvalidInput(f"--gpus must be a positive integer, got {gpus!r}", field="gpus")
    # user-given fields are checked as given (one clear error naming the flag)
    probe = tp or dp_attention or 1   # EP beyond TP runs attention data-parallel (vLLM DP + EP)
    validate_deployment(Deployment(gpus=max(probe, ep or 1) * (pp or 1), tp=probe, pp=pp or 1, ep=ep or 1,
                                   dp_attention=dp_attention or 1), model)
    rows = _candidates(model, engine, gpus, pp, ep, dp_attention, tp)
    ok = np.zeros(0, dtype=bool)
    lay: Layout | None = None
    if rows:
        ok, lay = fitting(gpus, rows)
    if not ok.any() and not pp:
        deeper = [r for p in _POW2[1:] if p <= gpus for r in _candidates(model, engine, gpus, p, ep, dp_attention, tp)]
        if deeper:
            ok2, lay2 = fitting(gpus, deeper)
            if ok2.any():
                rows, ok, lay = deeper, ok2, lay2
    if not ok.any():
        if not rows:
            raise InvalidInput(f"no valid layout of {model.id} on {gpus} accelerator(s)", field="gpus")
        # nothing fits: the widest layout, so that the memory check says by how much it falls short
        t, p, e, d = max(rows, key=lambda r: (max(r[0], r[2]) * r[1], r[0]))
        return LayoutChoice(gpus=gpus, tp=t, pp=p, ep=e, dp_attention=d,
                            reason=f"no layout fits {gpus} GPU(s); the widest, {_describe(t, p, e, d, 1)}, is shown")
    assert lay is not None  # ok.any(): some candidate was evaluated
    keep = np.nonzero(ok)[0]
    rows = [rows[i] for i in keep]
    score, why = _score(model, lay.take(keep), pf, wl)
    best = int(np.nanargmax(score))
    t, p, e, d = rows[best]
    replicas = gpus // (max(t, e) * p)
    return LayoutChoice(gpus=gpus, tp=t, pp=p, ep=e, dp_attention=d,
                        reason=f"layout chosen by suanli: {_describe(t, p, e, d, replicas)} -- {why} of "
                               f"{len(rows)} layout(s) that fit {gpus} GPU(s)")


def _score(model: ModelSpec, lay: Layout, pf: Platform, wl: Workload) -> tuple[np.ndarray, str]:
    """Higher is better, per candidate; and what the score means."""
    e = Instance(model=model, lay=lay, pf=pf, isl=float(wl.isl), osl=float(wl.osl))
    plan = e.plans()[0]
    cap: np.ndarray = np.asarray(e.batch_cap(plan), dtype=float)
    inst: np.ndarray = np.asarray(lay.instance_gpus, dtype=float)
    replicas: np.ndarray = np.asarray(lay.replicas, dtype=float)
    osl = float(wl.osl)
    scen = wl.scenario
    if scen in ("fixed-concurrency", "single-request"):
        conc = float(wl.concurrency or 1.0)
        active = np.minimum(replicas, conc)
        b = np.minimum(conc / active, cap)
        m = e.closed_loop(b)
        e2e = m["ttft"] + (osl - 1.0) * m["tpot"]
        # over capacity the excess waits whole cycles
        e2e = e2e * np.maximum(conc / active / b, 1.0)
        return -e2e, "lowest end-to-end latency at this concurrency"
    if scen == "server":
        q = e.server_queue(cap, float(wl.request_rate or 0.0) / replicas)  # Workload requires a rate here
        sat = np.asarray(q["saturated"])
        if np.all(sat):
            return q["capacity"] * replicas, "highest capacity (none sustains the request rate)"
        m = e.closed_loop(np.maximum(q["batch"], 1.0))
        e2e = m["ttft"] + np.where(sat, 0.0, q["queue_wait"]) + (osl - 1.0) * np.where(sat, 1.0, q["tpot"])
        return np.where(sat, -np.inf, -e2e), "lowest end-to-end latency that sustains the request rate"
    if scen == "prefill-only":
        seqs = np.maximum(1.0, pf.runtime.limits.max_batched_tokens / float(wl.isl))
        rate = seqs / e.prompt_time(0.0, seqs) / inst
        return rate, "highest prefill throughput per GPU"
    m = e.mean_step(cap, cap / osl if scen != "decode-only" else 0.0)
    return cap / m["mean"] / inst, "highest throughput per GPU"


__all__ = ["LayoutChoice", "choose_layout"]
