"""Deployment search: enumerate parallel layouts x precisions x batch sizes and
evaluate them all at once (numpy, no Python loop per configuration).

Two serving architectures:

* aggregated: one instance runs prefill and decode (continuous batching with
  chunked prefill); with ``b`` requests in flight per instance the metrics are
  the closed-loop ones of ``perf.serving`` (TPOT = mixed step, TTFT = half a
  step of waiting + the step carrying the prompt).
* disaggregated (xPyD): ``x`` prefill instances feed ``y`` decode instances;
  the KV cache of each prompt moves from prefill to decode over the scale-up
  link when both fit in one node, else over the server's scale-out NIC.  TPOT
  is a pure decode step (no prompt interference); TTFT adds the KV transfer.
  The request rate is the smaller of the two pools' rates.

All throughputs are per accelerator of one deployment unit (replicas scale
linearly), so the best configuration is the one with the highest tokens/s per
GPU that meets the latency targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Sequence

import numpy as np

from suanli.errors import InvalidInput
from suanli.perf.layout import Layout, Precision, layouts
from suanli.perf.memory import kv_bytes_per_sequence
from suanli.perf.opcost import Platform
from suanli.perf.ops import StepLoad
from suanli.perf.serving import Instance
from suanli.specs.deployment import Deployment, validate_deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec

BATCHES = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048],
                   dtype=float)
_POW2 = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True, kw_only=True)
class Space:
    """Candidate instance layouts of one model on one accelerator at one precision
    (weight and KV formats, resolved to kernel dtypes in ``lay.prec``)."""

    lay: Layout
    weight: DType
    kv: DType

    @property
    def size(self) -> int:
        return self.lay.size


def enumerate_space(model: ModelSpec, *, max_gpus: int, weights: Sequence[DType], kvs: Sequence[DType],
                    precisions: dict[tuple[DType, DType], Precision], exact_gpus: int | None = None,
                    allow_pp: bool = True, allow_ep: bool = True) -> list[Space]:
    """Every valid instance layout with at most ``max_gpus`` accelerators
    (exactly ``exact_gpus`` when given): TP, PP, EP (= the TP group, or EP over
    data-parallel attention ranks), attention-DP -- one :class:`Space` per
    weight/KV precision (``precisions`` maps each pair to its kernel dtypes)."""
    rows: list[tuple[int, int, int, int, int, DType, DType]] = []
    for tp, pp in product(_POW2, _POW2 if allow_pp else (1,)):
        if tp * pp > max_gpus or pp > model.num_layers:
            continue
        eps = [1]
        dps = [1]
        if model.is_moe and allow_ep and tp > 1:
            eps.append(tp)
            dps.append(tp)
        for ep, dp in product(eps, dps):
            if dp > 1 and ep == 1 and model.attention != "mla":
                continue  # attention-DP is used with MLA/MoE models (SGLang); skip elsewhere
            gpus = max(tp, ep) * pp
            if exact_gpus is not None and gpus != exact_gpus:
                continue
            for w, k in product(weights, kvs):
                dep = Deployment(gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp, weight_dtype=w, kv_dtype=k)
                try:
                    validate_deployment(dep, model)
                except InvalidInput:
                    continue
                rows.append((gpus, tp, pp, ep, dp, w, k))
    if not rows:
        raise InvalidInput(f"no valid layout of {model.id} on at most {max_gpus} GPUs"
                           + (f" (exactly {exact_gpus})" if exact_gpus else ""), field="gpus")
    spaces = []
    for w, k in product(weights, kvs):
        sel = [r for r in rows if r[5] == w and r[6] == k]
        if not sel:
            continue
        cols = list(zip(*sel))
        spaces.append(Space(lay=layouts(gpus=cols[0], tp=cols[1], pp=cols[2], ep=cols[3], dp_attention=cols[4],
                                        prec=precisions[(w, k)]), weight=w, kv=k))
    return spaces


@dataclass(frozen=True, kw_only=True)
class Evaluated:
    """Flat table of evaluated configurations (numpy columns of equal length)."""

    columns: dict[str, np.ndarray]
    evaluated: int = 0    # configurations computed, including those masked out as infeasible

    def __len__(self) -> int:
        return int(len(next(iter(self.columns.values())))) if self.columns else 0

    def mask(self, keep: np.ndarray) -> "Evaluated":
        return Evaluated(columns={k: v[keep] for k, v in self.columns.items()},
                         evaluated=self.evaluated or int(len(keep)))

    @staticmethod
    def concat(parts: Sequence["Evaluated"]) -> "Evaluated":
        total = sum(p.evaluated for p in parts)
        parts = [p for p in parts if len(p)]
        if not parts:
            return Evaluated(columns={}, evaluated=total)
        keys = list(parts[0].columns)
        return Evaluated(columns={k: np.concatenate([p.columns[k] for p in parts]) for k in keys}, evaluated=total)


def evaluate_aggregated(model: ModelSpec, space: Space, pf: Platform, *, isl: float, osl: float,
                        batches: np.ndarray = BATCHES) -> Evaluated:
    """Closed-loop metrics for every (layout, batch) pair that fits in memory."""
    e = Instance(model=model, lay=space.lay, pf=pf, isl=isl, osl=osl)
    plan, one = e.plans()
    cap = np.asarray(e.batch_cap(plan))
    fits = np.asarray(one.fits, dtype=bool) & (np.asarray(plan.max_seqs_per_instance) >= 1)
    ex = Instance(model=model, lay=space.lay.expand(), pf=pf, isl=isl, osl=osl)
    b = np.broadcast_to(batches, (space.size, len(batches)))
    valid = fits[:, None] & (b <= cap[:, None] + 1e-9)
    m = ex.closed_loop(b)
    tpot, ttft = m["tpot"], m["ttft"]
    cycle = ttft + (osl - 1.0) * tpot
    inst_gpus = np.asarray(space.lay.instance_gpus)[:, None]
    req_rate = b / cycle
    out = req_rate * osl / inst_gpus
    n, g = b.shape
    rep = lambda a: np.repeat(np.asarray(a), g)  # noqa: E731
    cols = {
        "arch": np.full(n * g, "agg", dtype=object),
        "gpus": rep(inst_gpus[:, 0]), "tp": rep(space.lay.tp), "pp": rep(space.lay.pp), "ep": rep(space.lay.ep),
        "dp_attention": rep(space.lay.dp_attention),
        "weight_dtype": np.full(n * g, space.weight.value, dtype=object),
        "kv_dtype": np.full(n * g, space.kv.value, dtype=object),
        "prefill_gpus": np.zeros(n * g), "decode_gpus": rep(inst_gpus[:, 0]),
        "x_prefill": np.zeros(n * g), "y_decode": np.ones(n * g),
        "batch": b.reshape(-1), "concurrency": b.reshape(-1),
        "ttft_s": np.broadcast_to(ttft, b.shape).reshape(-1), "tpot_s": np.broadcast_to(tpot, b.shape).reshape(-1),
        "output_tok_s_per_gpu": out.reshape(-1), "req_s_per_unit": req_rate.reshape(-1),
    }
    cols["tok_s_per_user"] = 1.0 / cols["tpot_s"]
    return Evaluated(columns=cols).mask(valid.reshape(-1))


def evaluate_disaggregated(model: ModelSpec, space: Space, pf: Platform, *, isl: float,
                           osl: float, max_gpus: int, batches: np.ndarray = BATCHES,
                           workers: Sequence[int] = (1, 2, 3, 4, 6, 8)) -> Evaluated:
    """xPyD combinations (``x`` prefill, ``y`` decode instances, each a layout
    of ``space``) within ``max_gpus``, same precisions on both sides.

    Prefill instances batch prompts up to the token budget; only prefill
    layouts on the Pareto front of (requests/s per GPU, single-prompt latency)
    are paired, since a dominated prefill layout never gives a better pair.
    One prompt's KV cache (each prefill accelerator's shard in parallel) moves
    over the scale-up link when the pair fits in one node, else over the
    scale-out NIC."""
    hw, rt = pf.hw, pf.runtime
    e = Instance(model=model, lay=space.lay, pf=pf, isl=isl, osl=osl)
    plan, one = e.plans()
    fits = np.asarray(one.fits, dtype=bool)
    gp_all = np.asarray(space.lay.instance_gpus, dtype=float)
    seqs = max(1.0, rt.limits.max_batched_tokens / isl)
    r_p = seqs / np.asarray(e.prompt_time(0.0, seqs))       # requests/s of one prefill instance
    t_pf_one = np.asarray(e.prompt_time(0.0, 1.0))          # one prompt alone
    kv_shard = np.asarray(kv_bytes_per_sequence(model, space.lay, isl), dtype=float)
    cap = np.asarray(e.batch_cap(plan))
    ex = Instance(model=model, lay=space.lay.expand(), pf=pf, isl=isl, osl=osl)
    b = np.broadcast_to(batches, (space.size, len(batches)))
    t_dec = ex.step_time_s(StepLoad(n_dec=b, ctx_dec=isl + osl / 2.0))  # pure decode steps
    r_d = b / (osl * t_dec)                                    # requests/s of one decode instance
    ok_d = fits[:, None] & (b <= cap[:, None] + 1e-9)
    parts = []
    if fits.any():
        idx = np.nonzero(fits)[0]
        front = idx[pareto_front(r_p[idx] / gp_all[idx], -t_pf_one[idx])]
        for i in front:
            for x, y in product(workers, repeat=2):
                g_tot = x * gp_all[i] + y * gp_all[idx]
                sel = g_tot <= max_gpus
                if not sel.any():
                    continue
                jj, g_tot = idx[sel], g_tot[sel]
                same_node = g_tot <= hw.node_size
                bw = np.where(same_node, hw.link_bw, hw.scaleout_bw) * rt.comm_eff
                lat = np.where(same_node, hw.link_latency_s, hw.link_latency_s + hw.scaleout_latency_s)
                kv_t = lat + kv_shard[i] / bw
                rate = np.minimum(x * r_p[i], y * r_d[jj])                  # (len(jj), G)
                ttft = rt.request_s + t_pf_one[i] + kv_t[:, None] + 0.5 * t_dec[jj]
                out = rate * osl / g_tot[:, None]
                n, g = rate.shape
                rep = lambda a: np.repeat(np.asarray(a), g)  # noqa: E731
                cols = {
                    "arch": np.full(n * g, "disagg", dtype=object), "gpus": rep(g_tot),
                    "tp": rep(space.lay.tp[jj]), "pp": rep(space.lay.pp[jj]), "ep": rep(space.lay.ep[jj]),
                    "dp_attention": rep(space.lay.dp_attention[jj]),
                    "weight_dtype": np.full(n * g, space.weight.value, dtype=object),
                    "kv_dtype": np.full(n * g, space.kv.value, dtype=object),
                    "prefill_gpus": np.full(n * g, gp_all[i]), "decode_gpus": rep(gp_all[jj]),
                    "x_prefill": np.full(n * g, float(x)), "y_decode": np.full(n * g, float(y)),
                    "batch": b[jj].reshape(-1), "concurrency": (b[jj] * y).reshape(-1),
                    "ttft_s": ttft.reshape(-1), "tpot_s": t_dec[jj].reshape(-1),
                    "output_tok_s_per_gpu": out.reshape(-1), "req_s_per_unit": rate.reshape(-1),
                }
                cols["tok_s_per_user"] = 1.0 / cols["tpot_s"]
                parts.append(Evaluated(columns=cols).mask(ok_d[jj].reshape(-1)))
    return Evaluated.concat(parts)


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated when both ``x`` and ``y`` are
    maximised, sorted by ascending ``x`` (vectorised: a running maximum of
    ``y`` over points sorted by descending ``x``)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((-y, -x))          # x descending, ties: y descending
    ys = y[order]
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(ys)[:-1]])
    keep = order[ys > best_before]
    return keep[np.argsort(x[keep], kind="stable")]


__all__ = ["BATCHES", "Space", "Evaluated", "enumerate_space", "evaluate_aggregated", "evaluate_disaggregated",
           "pareto_front"]
