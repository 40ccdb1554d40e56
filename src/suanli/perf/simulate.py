"""Request-level serving simulator: continuous batching, chunked prefill,
KV-cache capacity and preemption, prefix caching.

What is simulated (one engine instance, vLLM V1 / SGLang-style scheduler):

* Every engine step packs all running decodes (one token each), then fills
  the rest of the token budget ``max_batched_tokens`` with prefill chunks:
  first the partially prefilled requests, then new requests from the FIFO
  waiting queue (chunked prefill).  Decodes are never cut by the budget (a
  budget below ``max_seqs`` only starves prefill).  With
  ``chunked_prefill=False`` a prompt is never split: it waits until its
  whole prompt fits in the step's remaining budget (a prompt longer than the
  whole budget runs as the only prefill of a step).  Prefill-only / decode-only alternation (vLLM V0,
  SGLang without mixed chunks) is not modelled.
* A request is admitted when ``max_seqs`` allows and its prompt (+ the
  tokens it already generated, if it was preempted) + 1 fits in the free KV
  cache (tokens not claimed by running requests nor by this step's decodes).
  KV grows by one token per decoded token.  When a step's decodes do not fit,
  the most recently admitted running request is preempted (recompute: its
  KV is freed, it goes back to the head of the queue, keeps its generated
  tokens and must prefill prompt + generated tokens again).
* Prefix caching: a share ``prefix_hit_rate`` of every prompt (rounded down,
  at least one token always computed) is not prefilled but occupies KV.
* A step lasts ``table(n_dec, n_pf)`` seconds (:class:`StepTable`, built
  from :class:`~suanli.perf.serving.Instance` by :func:`step_table`).  The
  first token of a request is emitted at the end of the step that completes
  its prefill; then one token per step.  ``request_overhead_s`` (HTTP,
  tokenisation) is added to TTFT and end-to-end latency, as in the
  analytical model.  With nothing running and no one waiting the clock jumps
  to the next arrival.

Multiple replicas (data-parallel instances behind a load balancer) are the
caller's business: simulate one instance with ``rate / replicas`` requests/s
(random splitting of a Poisson stream is Poisson).

Speed (event skipping).  Decode tokens are not simulated one by one.  A
global counter ``G`` counts decode steps; a decoding request stores the
value of ``G`` at which it finishes (in a heap with lazy deletion for
preempted requests) and ``kv_base`` such that its KV is ``kv_base + G``; the
total KV in use is kept as one running sum.  While no prefill work can be
scheduled (nothing partially prefilled with budget left, the queue empty or
blocked by KV / ``max_seqs``), every step has the same composition and the
same duration, so ``k`` steps are taken at once, with ``k`` the smallest of:
steps to the next completion (heap top - G), steps until the decodes
exhaust the KV cache, and -- only when an arrival could be admitted -- steps
until the next arrival.  Cost is O(log n) per request event, independent of
output lengths; ITL is kept as weighted ``(gap, count)`` pairs.

Units: seconds, tokens; rates per second.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

import numpy as np

from suanli.errors import InvalidInput
from suanli.perf.ops import StepLoad
from suanli.perf.serving import Instance
from suanli.perf.workload import Requests

DEC_POINTS = 33   # grid points along the decode batch
PF_POINTS = 17    # grid points along the prefill tokens of a step


# --------------------------------------------------------------------------- step-time table

def _locate(xs: list[float], x: float) -> tuple[int, float]:
    """Segment index and fraction of ``x`` on grid ``xs`` (linear extrapolation past the ends)."""
    i = bisect_right(xs, x) - 1
    last = len(xs) - 2
    if i < 0:
        i = 0
    elif i > last:
        i = last
    x0 = xs[i]
    return i, (x - x0) / (xs[i + 1] - x0)


@dataclass(frozen=True, kw_only=True, eq=False)
class StepTable:
    """Step time (s) on a grid of decode batch ``n_dec`` (sequences) x prefill
    tokens ``n_pf`` (tokens), interpolated bilinearly (extrapolated linearly
    past the last grid point).  Both grids start at 0 and increase strictly."""

    n_dec: np.ndarray      # shape (D,), sequences
    n_pf: np.ndarray       # shape (P,), tokens
    seconds: np.ndarray    # shape (D, P), s
    _xd: list[float] = field(init=False, repr=False, compare=False)
    _xp: list[float] = field(init=False, repr=False, compare=False)
    _rows: list[list[float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        xd = np.asarray(self.n_dec, dtype=float)
        xp = np.asarray(self.n_pf, dtype=float)
        sec = np.asarray(self.seconds, dtype=float)
        for name, g in (("n_dec", xd), ("n_pf", xp)):
            if g.ndim != 1 or g.size < 2 or g[0] != 0.0 or np.any(np.diff(g) <= 0.0):
                raise InvalidInput(f"step table grid {name} must be 1-D, start at 0 and increase strictly",
                                   field=name)
        if sec.shape != (xd.size, xp.size):
            raise InvalidInput(f"step table seconds must have shape {(xd.size, xp.size)}, got {sec.shape}",
                               field="seconds")
        if not np.all(np.isfinite(sec)) or np.any(sec.ravel()[1:] <= 0.0) or sec[0, 0] < 0.0:
            raise InvalidInput("step times must be finite and positive", field="seconds")
        object.__setattr__(self, "n_dec", xd)
        object.__setattr__(self, "n_pf", xp)
        object.__setattr__(self, "seconds", sec)
        object.__setattr__(self, "_xd", xd.tolist())
        object.__setattr__(self, "_xp", xp.tolist())
        object.__setattr__(self, "_rows", sec.tolist())

    def __call__(self, n_dec: float, n_pf: float) -> float:
        """Seconds of one step with ``n_dec`` decodes and ``n_pf`` prefill tokens."""
        i, fx = _locate(self._xd, n_dec)
        j, fy = _locate(self._xp, n_pf)
        r0, r1 = self._rows[i], self._rows[i + 1]
        a = r0[j] + (r0[j + 1] - r0[j]) * fy
        b = r1[j] + (r1[j + 1] - r1[j]) * fy
        return a + (b - a) * fx

    @classmethod
    def constant(cls, seconds: float, max_dec: int, budget: int) -> "StepTable":
        """Every step lasts ``seconds`` whatever its batch (queueing tests)."""
        return cls(n_dec=np.array([0.0, float(max(1, max_dec))]), n_pf=np.array([0.0, float(max(1, budget))]),
                   seconds=np.full((2, 2), float(seconds)))


def _grid(top: float, points: int) -> np.ndarray:
    """0, then ~geometric integers up to ``top`` (dense where step time bends)."""
    g = np.rint(np.geomspace(1.0, max(1.0, float(top)), max(1, points - 1)))
    g = np.unique(np.concatenate([[0.0], g]))
    return g if g.size >= 2 else np.array([0.0, 1.0])


def step_table(inst: Instance, max_dec: int, budget: int, ctx: float | None = None, *,
               points: tuple[int, int] = (DEC_POINTS, PF_POINTS)) -> StepTable:
    """Tabulate ``inst``'s step time for 0..``max_dec`` decodes x 0..``budget``
    prefill tokens in one vectorised call.

    Decodes attend to ``ctx`` tokens (default ``inst.ctx_dec`` = isl + osl/2);
    prefill tokens attend on average to ``inst.isl / 2`` and finish
    ``n_pf / inst.isl`` prompts (which need logits).  ``inst.lay`` must be a
    one-deployment layout (``layout_of``)."""
    if max_dec < 1 or budget < 1:
        raise InvalidInput("step table needs max_dec >= 1 and budget >= 1 tokens", field="max_dec")
    xd, xp = _grid(max_dec, points[0]), _grid(budget, points[1])
    d, p = np.meshgrid(xd, xp, indexing="ij")
    load = StepLoad(n_dec=d, ctx_dec=inst.ctx_dec if ctx is None else float(ctx), n_pf=p,
                    pf_seqs=p / inst.isl)
    sec = np.asarray(inst.step_time_s(load), dtype=float).reshape(d.shape)
    return StepTable(n_dec=xd, n_pf=xp, seconds=sec)


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """Scheduler of one engine instance.

    max_seqs: most running sequences (vLLM ``max_num_seqs``);
    max_batched_tokens: token budget of one step (decodes + prefill chunks);
    kv_capacity_tokens: KV-cache capacity of the instance (tokens);
    prefix_hit_rate: share of each prompt found in the prefix cache (0..1);
    request_overhead_s: fixed cost added to TTFT and E2E (s);
    chunked_prefill: split long prompts across steps (see module docstring).
    """

    max_seqs: int
    max_batched_tokens: int
    kv_capacity_tokens: int
    prefix_hit_rate: float = 0.0
    request_overhead_s: float = 0.0
    chunked_prefill: bool = True

    def __post_init__(self) -> None:
        for name in ("max_seqs", "max_batched_tokens", "kv_capacity_tokens"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise InvalidInput(f"{name} must be a positive integer, got {v!r}", field=name)
            object.__setattr__(self, name, int(v))
        if not 0.0 <= self.prefix_hit_rate <= 1.0:
            raise InvalidInput(f"prefix_hit_rate must be in [0, 1], got {self.prefix_hit_rate!r}",
                               field="prefix_hit_rate")
        if not self.request_overhead_s >= 0.0:
            raise InvalidInput(f"request_overhead_s must be >= 0, got {self.request_overhead_s!r}",
                               field="request_overhead_s")


def sim_config(inst: Instance, *, prefix_hit_rate: float = 0.0, chunked_prefill: bool = True) -> SimConfig:
    """The scheduler the analytical model assumes for ``inst``: its engine
    limits (``max_seqs`` x attention-DP ranks), request overhead, and the KV
    capacity of its memory plan at the mean decode context."""
    lim = inst.limits
    plan = inst.plans()[0]
    seqs = float(np.asarray(plan.max_seqs_per_instance, dtype=float).reshape(-1)[0])
    dp = float(np.asarray(inst.lay.attn_dp, dtype=float).reshape(-1)[0])
    return SimConfig(max_seqs=max(1, int(lim.max_seqs * dp)), max_batched_tokens=lim.max_batched_tokens,
                     kv_capacity_tokens=max(1, int(seqs * inst.ctx_dec)), prefix_hit_rate=prefix_hit_rate,
                     request_overhead_s=inst.pf.runtime.request_s, chunked_prefill=chunked_prefill)


# --------------------------------------------------------------------------- result

def _stats(x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"mean": math.nan, "p50": math.nan, "p90": math.nan, "p99": math.nan}
    p50, p90, p99 = np.percentile(x, [50.0, 90.0, 99.0])
    return {"mean": float(x.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


def _weighted_stats(values: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """Mean and inverted-CDF percentiles of ``values`` each repeated ``counts`` times."""
    keep = counts > 0
    v, c = values[keep], counts[keep].astype(float)
    if v.size == 0:
        return {"mean": math.nan, "p50": math.nan, "p90": math.nan, "p99": math.nan}
    order = np.argsort(v, kind="stable")
    v, cum = v[order], np.cumsum(c[order])
    idx = np.searchsorted(cum, np.array([0.5, 0.9, 0.99]) * cum[-1], side="left")
    p50, p90, p99 = v[np.minimum(idx, v.size - 1)]
    return {"mean": float(np.dot(v, c[order]) / cum[-1]), "p50": float(p50), "p90": float(p90),
            "p99": float(p99)}


@dataclass(frozen=True, kw_only=True, eq=False)
class SimResult:
    """Outcome of :func:`simulate`.  Per-request arrays (s) are in request order;
    ``tpot_s`` is NaN for one-token outputs.  ``itl_s`` / ``itl_count``: every
    inter-token gap (s) as distinct values with their multiplicity."""

    arrival_s: np.ndarray
    first_token_s: np.ndarray
    finish_s: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    itl_s: np.ndarray
    itl_count: np.ndarray
    input_tokens: int        # sum of prompt lengths
    prefill_tokens: int      # prompt tokens computed (recomputation after preemption included)
    cached_tokens: int       # prompt tokens served from the prefix cache
    output_tokens: int
    preemptions: int
    steps: int               # engine steps simulated
    duration_s: float        # first arrival to last completion

    def summary(self, sla_ttft_s: float | None = None, sla_tpot_s: float | None = None) -> dict[str, Any]:
        """Latency distributions (mean/p50/p90/p99, s), throughput and goodput.

        Goodput counts requests whose TTFT <= ``sla_ttft_s`` and TPOT <=
        ``sla_tpot_s`` (an unset SLA always holds; one-token outputs meet any
        TPOT SLA), per second of ``duration_s``."""
        n = int(self.ttft_s.size)
        dur = self.duration_s if self.duration_s > 0 else math.nan
        ok = np.ones(n, dtype=bool)
        if sla_ttft_s is not None:
            ok &= self.ttft_s <= sla_ttft_s
        if sla_tpot_s is not None:
            ok &= ~(self.tpot_s > sla_tpot_s)   # NaN (osl = 1) passes
        good = int(ok.sum())
        return {
            "requests": n, "duration_s": self.duration_s, "preemptions": self.preemptions, "steps": self.steps,
            "ttft_s": _stats(self.ttft_s), "tpot_s": _stats(self.tpot_s),
            "itl_s": _weighted_stats(self.itl_s, self.itl_count), "e2e_s": _stats(self.e2e_s),
            "output_tok_s": self.output_tokens / dur, "total_tok_s": (self.output_tokens + self.input_tokens) / dur,
            "input_tok_s": self.input_tokens / dur, "requests_s": n / dur,
            "goodput_req_s": good / dur, "goodput_fraction": good / n if n else math.nan,
            "sla_ttft_s": sla_ttft_s, "sla_tpot_s": sla_tpot_s,
        }


# --------------------------------------------------------------------------- simulation

def simulate(requests: Requests, table: StepTable, config: SimConfig) -> SimResult:
    """Run ``requests`` through one engine instance (see module docstring).

    Deterministic: the same inputs give the same result.  Raises
    :class:`~suanli.errors.InvalidInput` when a request could never fit in
    the KV cache on its own (isl + osl > ``kv_capacity_tokens``)."""
    n = len(requests)
    arr: list[float] = requests.arrival_s.tolist()
    isl: list[int] = requests.isl.tolist()
    osl: list[int] = requests.osl.tolist()
    cap, budget_max, seq_max = config.kv_capacity_tokens, config.max_batched_tokens, config.max_seqs
    chunked = config.chunked_prefill
    if n and int((requests.isl + requests.osl).max()) > cap:
        raise InvalidInput(f"a request of {int((requests.isl + requests.osl).max())} tokens (isl + osl) does not "
                           f"fit in the KV cache of {cap} tokens", field="kv_capacity_tokens")
    hit = config.prefix_hit_rate
    cached = [min(int(x * hit), x - 1) for x in isl]
    dec_t = [table(k, 0.0) for k in range(seq_max + 1)]

    nan = math.nan
    first = [nan] * n
    fin = [nan] * n
    tlast = [0.0] * n     # time of the last token before a preemption
    gen = [0] * n         # tokens emitted (decoders: as of their last (re)admission)
    left = [0] * n        # prefill tokens still to compute (partially prefilled requests)
    resv = [0] * n        # KV reserved at admission (prompt + generated + 1)
    base = [0] * n        # decoders: KV = base + G
    fin_g = [0] * n       # decoders: value of G at which the last token is out
    state = bytearray(n)  # 0 not running, 1 prefilling, 2 decoding, 3 done
    running: dict[int, None] = {}   # admission order (victim of preemption = last)
    pfq: list[int] = []              # partially prefilled, admission order
    waiting: deque[int] = deque()
    heap: list[int] = []             # fin_g * n + rid
    itl_d: list[float] = []
    itl_c: list[int] = []
    now, G, used, n_dec, ai, done = 0.0, 0, 0, 0, 0, 0
    preemptions = steps = pf_tokens = cache_tokens = out_tokens = 0
    nn = max(n, 1)

    while done < n:
        while ai < n and arr[ai] <= now:
            waiting.append(ai)
            ai += 1
        if not running and not waiting:
            now = arr[ai]
            continue
        # room for this step's decode tokens: preempt the newest running requests
        while used + n_dec > cap:
            v = next(reversed(running))
            del running[v]
            if state[v] == 2:
                n_dec -= 1
                used -= base[v] + G
                gen[v] = osl[v] - (fin_g[v] - G)
                tlast[v] = now
            else:
                used -= resv[v]
                pfq.remove(v)
            state[v] = 0
            waiting.appendleft(v)
            preemptions += 1
        room = cap - used - n_dec
        budget = budget_max - n_dec
        n_pf = 0
        completing: list[int] = []
        if budget > 0:
            if pfq:
                m = 0
                for r in pfq:
                    c = left[r]
                    if c > budget:
                        left[r] = c - budget
                        n_pf += budget
                        budget = 0
                        break
                    left[r] = 0
                    n_pf += c
                    budget -= c
                    m += 1
                    if budget == 0:
                        break
                if m:
                    completing = pfq[:m]
                    del pfq[:m]
            while waiting and budget > 0 and len(running) < seq_max:
                r = waiting[0]
                g = gen[r]
                need = isl[r] + g + 1
                if need > room:
                    break
                p = isl[r] - cached[r] + g
                if p > budget and not chunked and n_pf:
                    break
                waiting.popleft()
                running[r] = None
                room -= need
                used += need
                resv[r] = need
                cache_tokens += cached[r]
                if p <= budget or not chunked:
                    completing.append(r)
                    n_pf += p
                    budget -= p
                else:
                    left[r] = p - budget
                    n_pf += budget
                    budget = 0
                    pfq.append(r)
                state[r] = 1

        if n_pf == 0:
            # decode-only: identical steps until a completion, KV exhaustion or a useful arrival
            if n_dec == 0:
                raise RuntimeError("simulator stalled with work pending (bug)")
            dt = dec_t[n_dec]
            while True:
                f, r = divmod(heap[0], nn)
                if state[r] == 2 and fin_g[r] == f:
                    break
                heappop(heap)
            k = f - G
            kk = (cap - used) // n_dec
            if kk < k:
                k = kk
            if ai < n and not waiting and budget > 0 and len(running) < seq_max:
                ka = math.ceil((arr[ai] - now) / dt)
                if ka < k:
                    k = ka if ka > 1 else 1
            now += k * dt
            G += k
            used += k * n_dec
            out_tokens += k * n_dec
            steps += k
            itl_d.append(dt)
            itl_c.append(k * n_dec)
        else:
            dt = table(n_dec, n_pf)
            now += dt
            steps += 1
            pf_tokens += n_pf
            if n_dec:
                G += 1
                used += n_dec
                out_tokens += n_dec
                itl_d.append(dt)
                itl_c.append(n_dec)
        # decoders whose last token came out in this step
        limit = (G + 1) * nn
        while heap and heap[0] < limit:
            f, r = divmod(heappop(heap), nn)
            if state[r] != 2 or fin_g[r] != f:
                continue
            state[r] = 3
            del running[r]
            n_dec -= 1
            used -= base[r] + G
            fin[r] = now
            done += 1
        # prompts completed in this step emit a token
        for r in completing:
            g = gen[r]
            if g == 0:
                first[r] = now
            else:
                itl_d.append(now - tlast[r])
                itl_c.append(1)
            g += 1
            gen[r] = g
            out_tokens += 1
            if g >= osl[r]:
                state[r] = 3
                del running[r]
                used -= resv[r]
                fin[r] = now
                done += 1
            else:
                state[r] = 2
                n_dec += 1
                base[r] = resv[r] - G
                f = G + osl[r] - g
                fin_g[r] = f
                heappush(heap, f * nn + r)

    a = requests.arrival_s
    ft, fn = np.asarray(first, dtype=float), np.asarray(fin, dtype=float)
    o = requests.osl.astype(float)
    over = config.request_overhead_s
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(o > 1, (fn - ft) / (o - 1.0), math.nan)
    return SimResult(arrival_s=a, first_token_s=ft, finish_s=fn, ttft_s=ft - a + over, tpot_s=tpot,
                     e2e_s=fn - a + over, itl_s=np.asarray(itl_d, dtype=float),
                     itl_count=np.asarray(itl_c, dtype=np.int64), input_tokens=int(requests.isl.sum()),
                     prefill_tokens=pf_tokens, cached_tokens=cache_tokens, output_tokens=out_tokens,
                     preemptions=preemptions, steps=steps,
                     duration_s=float(fn.max() - a[0]) if n else 0.0)


__all__ = ["SimConfig", "SimResult", "StepTable", "sim_config", "simulate", "step_table"]
