"""A physical correction of the performance model fitted on a user's own runs.

The model's error on one chip x engine is not one number per metric: a slow
GEMM library, an engine that spends more host time per step, a front end
that adds latency to every request each move throughput, TPOT and TTFT by
different amounts at different loads.  A :class:`Correction` therefore scales
the *physical* parts of a step, not the outputs:

``gemm``
    dense and grouped (MoE) matrix kernels and the element-wise kernels
    between them (the matrix-engine and streaming efficiency of this chip's
    kernel libraries);
``attention``
    attention kernels of every kind (prefill, decode, MLA, linear attention,
    the DSA indexer);
``comm``
    collectives and transfers (all-reduce, all-gather, all-to-all, p2p, KV
    transfer: the achieved link bandwidth);
``host``
    the engine runtime per step (``step_s``, ``seq_s``, ``layer_s``:
    scheduling, sampling, small kernels and launch gaps);
``frontend``
    the per-request front-end cost in TTFT (``request_s``);
``ttft_rest``, ``tpot_rest``
    what the step model leaves unexplained in the measured TTFT and TPOT of
    these runs (scheduling policy, queueing the model does not describe,
    client-side timing): a factor on the predicted latency itself, with a
    prior as wide as the model's error on that metric, so that a latency the
    physics cannot explain is not forced into the kernel or host factors
    (which would then spoil the throughput predictions).

A run at one load and length constrains these factors through how much each
part contributes to what was measured, so it also corrects other loads,
lengths and models on the same chip and engine.

The fit (:func:`fit_log_scales`) is a Bayesian linear regression in log
space (one Gauss-Newton step of a maximum a posteriori fit): a normal prior
centred on the uncalibrated model (log scale 0, a stated prior spread per
part) and a normal measurement error.  One run moves the factors part of the
way; many consistent runs move them to what the data say.  The posterior
covariance gives how much of the prior uncertainty is left
(:func:`variance_left`), which narrows the prediction band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from suanli.perf.runtime import Runtime

GROUPS: tuple[str, ...] = ("gemm", "attention", "comm", "host", "frontend", "ttft_rest", "tpot_rest")
# the two last are not parts of a step but what the step model leaves unexplained in a
# latency metric (see module docstring): they multiply the predicted TTFT / TPOT only
METRIC_GROUPS: Mapping[str, str] = {"ttft_rest": "ttft_ms", "tpot_rest": "tpot_ms"}

# op kind (perf.opcost registry) -> the correction group that scales it
GROUP_OF_KIND: Mapping[str, str] = {
    "gemm": "gemm", "moe": "gemm", "elementwise": "gemm",
    "attn_prefill": "attention", "attn_decode": "attention", "mla_prefill": "attention",
    "mla_decode": "attention", "linear_attn": "attention", "indexer": "attention",
    "allreduce": "comm", "allgather": "comm", "alltoall": "comm", "p2p": "comm", "kv_transfer": "comm",
}

# Prior log-sd of each factor: how far the uncalibrated model may be off for one chip x
# engine, from its out-of-sample errors (docs/accuracy.md: median APE 16-40 % by metric and
# group, i.e. log-sd ~0.3-0.5 end to end) and the kernel-transfer errors
# (docs/kernel-transfer.md: 8-15 % for measured/transferred kernels, up to 2x for the
# roofline prior of chips without tables).  Host and front-end costs are the least known
# (fitted runtime costs sit at their range bounds for several engines), hence 0.7.
PRIOR_SD: Mapping[str, float] = {"gemm": 0.35, "attention": 0.45, "comm": 0.5, "host": 0.7, "frontend": 0.7,
                                 "ttft_rest": 0.7, "tpot_rest": 0.4}
# ... plus a factor common to the engine step (every part but the front end): a setup that
# is slower overall (clocks, power cap, another software build) shows in every part.  Its
# log-sd makes the prior spread of a whole step ~0.45-0.5, the spread of the per-group
# median errors of the development corpus out of sample (0.47 throughput, 0.68 TPOT in
# log space; docs/cv-records.json, 2026-12-06).
COMMON_SD = 0.4
COMMON_GROUPS: tuple[str, ...] = ("gemm", "attention", "comm", "host")


def prior_cov(prior_sd: Sequence[float] | None = None, common_sd: float = COMMON_SD) -> np.ndarray:
    """Prior covariance of the log scales (GROUPS order): independent parts plus the common step factor."""
    sd = np.asarray([PRIOR_SD[g] for g in GROUPS] if prior_sd is None else prior_sd, dtype=float)
    common = np.array([1.0 if g in COMMON_GROUPS else 0.0 for g in GROUPS])
    return np.diag(sd ** 2) + common_sd ** 2 * np.outer(common, common)

# Log-sd of one measured metric around the corrected model: run-to-run variation of a
# serving benchmark (a few %) plus the model's remaining error between loads and lengths
# on one chip x engine after a correction.  The default is a stated assumption; per metric
# family and scenario it is the spread the model leaves *within* one publication x chip x
# engine after each group's own median shift: the 68th percentile of |log residual - group
# median| of the leave-one-group-out predictions of the development corpus
# (docs/cv-records.json, 2026-12-06; 5-680 cases per cell).  A metric the model describes
# loosely (closed-loop TTFT) then moves the correction little; offline and server
# throughput, which it describes well within a group, move it most.
OBS_SD = 0.1
OBS_SD_BY: Mapping[tuple[str, str], float] = {
    ("throughput", "offline"): 0.25, ("throughput", "fixed-concurrency"): 0.40, ("throughput", "server"): 0.10,
    ("throughput", "single-request"): 0.18, ("throughput", "decode-only"): 0.15,
    ("tpot", "offline"): 0.39, ("tpot", "fixed-concurrency"): 0.36, ("tpot", "server"): 0.17,
    ("tpot", "single-request"): 0.18, ("tpot", "decode-only"): 0.12,
    ("ttft", "offline"): 0.46, ("ttft", "fixed-concurrency"): 0.95, ("ttft", "server"): 0.39,
    ("ttft", "single-request"): 0.39,
}
# The part of OBS_SD_BY that comes from runs of *other models* of the same publication x chip
# x engine, and of other models of the same family: sqrt(p68^2 - p68^2) between the
# within-group scatter of the leave-one-group-out residuals and that within group x model
# (throughput 0.296 vs 0.223, TPOT 0.350 vs 0.308, TTFT 0.490 vs 0.377) and within group x
# family (0.245 / 0.314 / 0.457) of the development corpus (2026-12-06).  A run of the model
# being predicted says more about it than a run of another model on the same chip.
OTHER_MODEL_SD: Mapping[str, float] = {"throughput": 0.19, "tpot": 0.17, "ttft": 0.31}
OTHER_FAMILY_SD: Mapping[str, float] = {"throughput": 0.10, "tpot": 0.06, "ttft": 0.26}

# What no correction removes: a new prediction on a calibrated chip x engine still deviates
# by the model's scatter *within* one chip x engine (the median of OBS_SD_BY's cells, log-sd
# ~0.25).  The band of a corrected prediction never narrows below it until the runs show a
# smaller scatter themselves (five or more measured values: their RMS residual).
WITHIN_SD = 0.25

# Residuals beyond a few sigma are down-weighted (Student-t likelihood with ROBUST_DF degrees
# of freedom, iteratively reweighted): one run the model cannot describe at all moves the
# correction little instead of to a clipped extreme.  Four degrees of freedom is the usual
# robust default (Lange, Little & Taylor, "Robust statistical modeling using the t
# distribution", JASA 84, 1989); a stated choice, not fitted.
ROBUST_DF = 4.0
# Prior probability that a chip x engine differs from the model at all (spike-and-slab).
# Out of sample (leave-one-source-group-out, docs/cv-records.json, 2026-12-06) 30 of 51
# publication x chip x engine groups (59 %) have a median log error beyond the within-group
# scatter (0.25), the rest are centred on the model; 0.5 is that evidence, rounded.  (On
# cases the bundled runtime was fitted on, fewer groups are off, and a lower value would
# score better there; the profile is for chips and setups the bundled fit has not seen.)
BIAS_PRIOR = 0.5


def obs_sd(family: str, scenario: str) -> float:
    """Measurement log-sd of a metric family (throughput / tpot / ttft) in a scenario."""
    return OBS_SD_BY.get((family, scenario), 0.3 if family == "ttft" else 0.2)

# A correction factor outside [1/4, 4] means the runs measure something the model does not
# describe (another chip, a misconfigured engine); it is clipped and the fit says so.
MAX_LOG_SCALE = math.log(4.0)


@dataclass(frozen=True, kw_only=True)
class Correction:
    """Multipliers on the model's physical parts for one chip x engine (x model family)."""

    scales: tuple[tuple[str, float], ...] = ()   # (group, multiplier); missing groups are 1
    variance_left: float = 1.0                   # share of the prior uncertainty not removed by the runs
    sigma_floor: float = WITHIN_SD               # log-sd no correction removes (the runs' own scatter)
    n_runs: int = 0
    label: str = ""

    def scale(self, group: str) -> float:
        return dict(self.scales).get(group, 1.0)

    def metric_scale(self, metric: str) -> float:
        """Factor on a predicted latency metric (``ttft_ms`` / ``tpot_ms``); 1 otherwise."""
        for group, name in METRIC_GROUPS.items():
            if name == metric:
                return self.scale(group)
        return 1.0

    def op_scales(self) -> tuple[tuple[str, float], ...]:
        """Multiplier per op kind (what :class:`~suanli.perf.opcost.Platform` carries)."""
        by_group = dict(self.scales)
        return tuple((kind, by_group[g]) for kind, g in GROUP_OF_KIND.items() if g in by_group and by_group[g] != 1.0)

    def apply_runtime(self, rt: Runtime) -> Runtime:
        """The runtime with its host and front-end costs scaled."""
        from dataclasses import replace
        host, front = self.scale("host"), self.scale("frontend")
        return replace(rt, step_s=rt.step_s * host, seq_s=rt.seq_s * host, layer_s=rt.layer_s * host,
                       request_s=rt.request_s * front, sigma=self.sigma(rt.sigma),
                       provenance=f"{rt.provenance}; {self.label}" if self.label else rt.provenance)

    def sigma(self, before: float) -> float:
        """Log-sd of a corrected prediction: the part of the uncalibrated uncertainty the runs
        did not remove, and never less than the runs' own scatter around the model."""
        floor = min(before, self.sigma_floor)
        return math.sqrt(floor ** 2 + max(0.0, before ** 2 - floor ** 2) * self.variance_left)


@dataclass(frozen=True, kw_only=True)
class LogScaleFit:
    theta: np.ndarray          # log scale per group (GROUPS order)
    cov: np.ndarray            # posterior covariance
    clipped: tuple[str, ...]   # groups whose factor hit MAX_LOG_SCALE
    p_bias: float = 1.0        # posterior probability that the chip x engine is off at all

    def scales(self) -> dict[str, float]:
        return {g: float(math.exp(t)) for g, t in zip(GROUPS, self.theta)}

    def sd(self) -> dict[str, float]:
        return {g: float(math.sqrt(max(0.0, self.cov[i, i]))) for i, g in enumerate(GROUPS)}


def fit_log_scales(residual: np.ndarray, jacobian: np.ndarray, *, theta0: np.ndarray | None = None,
                   prior_sd: Sequence[float] | None = None, obs_sd: float | np.ndarray = OBS_SD,
                   robust_df: float | None = ROBUST_DF, bias_prior: float | None = BIAS_PRIOR) -> LogScaleFit:
    """One Gauss-Newton step of the MAP fit of the log scales.

    ``residual[i]`` is ``log(measured_i / predicted_i(theta0))``, ``jacobian[i, k]`` is
    ``d log predicted_i / d theta_k`` at ``theta0`` (``theta0`` defaults to 0: the
    uncalibrated model).  Prior ``theta ~ N(0, diag(prior_sd^2))``; measurements
    ``N(predicted, obs_sd^2)`` (prior covariance :func:`prior_cov`) in log space, or Student-t with ``robust_df`` degrees of
    freedom (iteratively reweighted least squares) unless ``robust_df`` is None.
    With ``bias_prior`` < 1 the estimate is averaged between "no bias" (theta0) and the MAP
    by the posterior probability of a bias (a spike-and-slab prior): runs that agree with
    the model within their scatter move it little, runs far off move it most of the way.  Returns the new estimate and its posterior
    covariance (normal approximation)."""
    J = np.atleast_2d(np.asarray(jacobian, dtype=float))
    r = np.asarray(residual, dtype=float).reshape(-1)
    k = len(GROUPS)
    if J.shape != (r.size, k):
        raise ValueError(f"jacobian shape {J.shape} does not match {r.size} residuals x {k} groups")
    t0 = np.zeros(k) if theta0 is None else np.asarray(theta0, dtype=float)
    sigma = np.broadcast_to(np.asarray(obs_sd, dtype=float), r.shape)
    prior_prec = np.linalg.inv(prior_cov(prior_sd))
    robust = np.ones_like(r)
    robust = np.ones_like(r)
    theta, cov = t0, np.linalg.inv(prior_prec)
    for _ in range(30 if robust_df else 1):
        w = robust / sigma ** 2
        precision = J.T @ (J * w[:, None]) + prior_prec
        cov = np.linalg.inv(precision)
        # MAP of the linearised problem: argmin |r - J (t - t0)|_w^2 + |t|_prior^2
        theta = cov @ (J.T @ (w * (r + J @ t0)))
        if not robust_df:
            break
        z = (r - J @ (theta - t0)) / sigma
        new = (robust_df + 1.0) / (robust_df + z ** 2)     # Student-t IRLS weights
        if np.allclose(new, robust, atol=1e-4):
            break
        robust = new
    p_bias = 1.0
    if bias_prior is not None and bias_prior < 1.0:
        # Is there a bias at all?  Evidence for "this chip x engine is off" (theta from the
        # prior) against "the model is right here" (theta = 0), from the runs' residuals
        # under the linearised model; the estimate is averaged over the two.
        S1 = J @ prior_cov(prior_sd) @ J.T + np.diag(sigma ** 2)
        S0 = np.diag(sigma ** 2)
        log_odds = (_log_normal(r, S1) + math.log(bias_prior)) - (_log_normal(r, S0) + math.log(1.0 - bias_prior))
        p_bias = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, log_odds))))
        shift = theta - t0
        theta = t0 + p_bias * shift
        # uncertainty: that of the estimate given a bias, plus the spread between the two
        # hypotheses (conservative: "no bias" is not counted as certainty about theta)
        cov = cov + p_bias * (1.0 - p_bias) * np.outer(shift, shift)
    clipped = tuple(g for g, t in zip(GROUPS, theta) if abs(t) > MAX_LOG_SCALE)
    theta = np.clip(theta, -MAX_LOG_SCALE, MAX_LOG_SCALE)
    return LogScaleFit(theta=theta, cov=cov, clipped=clipped, p_bias=p_bias)


def _log_normal(r: np.ndarray, S: np.ndarray) -> float:
    """log N(r; 0, S) up to the constant shared by both hypotheses."""
    _, logdet = np.linalg.slogdet(S)
    return -0.5 * (logdet + float(r @ np.linalg.solve(S, r)))


def variance_left(fit: LogScaleFit, weights: Sequence[float] | None = None,
                  prior_sd: Sequence[float] | None = None) -> float:
    """Share of the prior variance left after the fit, averaged over the groups
    (weighted by ``weights``, e.g. each part's share of the measured time)."""
    left = np.clip(np.diag(fit.cov) / np.diag(prior_cov(prior_sd)), 0.0, 1.0)
    wts = np.ones(len(GROUPS)) if weights is None else np.asarray(weights, dtype=float)
    if wts.sum() <= 0:
        return 1.0
    return float((left * wts).sum() / wts.sum())


__all__ = ["COMMON_SD", "Correction", "prior_cov", "GROUPS", "GROUP_OF_KIND", "LogScaleFit", "MAX_LOG_SCALE", "METRIC_GROUPS", "OBS_SD", "OBS_SD_BY", "WITHIN_SD", "OTHER_FAMILY_SD", "OTHER_MODEL_SD", "PRIOR_SD", "ROBUST_DF", "BIAS_PRIOR",
           "obs_sd",
           "fit_log_scales", "variance_left"]
