"""Collective communication times (alpha-beta model).

``bw`` is the one-direction bandwidth per accelerator in bytes/s, ``latency``
the fixed cost of one collective in seconds.  Sizes and group sizes may be
numpy arrays (vectorised sweeps).  Formulas: ring all-reduce moves 2(n-1)/n of
the message through each accelerator's link; all-to-all sends (n-1)/n of a
rank's tokens away; point-to-point sends the message once (Thakur,
Rabenseifner & Gropp 2005, "Optimization of collective communication
operations in MPICH").  A group of one rank costs nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _scalar_if(value: Any, *inputs: Any) -> Any:
    return float(value) if all(np.ndim(x) == 0 for x in inputs) else value


def allreduce_time(size: Any, n: Any, *, link_bw: float, scaleout_bw: float, node_size: int,
                   latency: float, scaleout_latency: float, eff: float) -> Any:
    """Ring all-reduce; once the group spans nodes the ring's slowest hop is
    the scale-out NIC (min of the two bandwidths)."""
    n_arr = np.asarray(n, dtype=float)
    spans = n_arr > node_size
    bw = np.where(spans, min(link_bw, scaleout_bw), link_bw) * eff
    lat = latency + np.where(spans, scaleout_latency, 0.0)
    t = np.where(n_arr > 1, lat + 2.0 * (n_arr - 1) / np.maximum(n_arr, 1) * size / bw, 0.0 * size)
    return _scalar_if(t, size, n)


def alltoall_time(size: Any, n: Any, *, link_bw: float, scaleout_bw: float, node_size: int,
                  latency: float, scaleout_latency: float, eff: float) -> Any:
    """``size``: bytes one rank holds for redistribution.  Of what leaves the
    rank, the share addressed to other nodes crosses the NIC; the intra- and
    inter-node parts move in parallel."""
    n_arr = np.asarray(n, dtype=float)
    away = size * (n_arr - 1) / np.maximum(n_arr, 1)
    remote_share = np.where(n_arr > node_size, (n_arr - node_size) / np.maximum(n_arr - 1, 1), 0.0)
    intra = away * (1 - remote_share) / (link_bw * eff)
    inter = away * remote_share / (scaleout_bw * eff)
    lat = latency + np.where(n_arr > node_size, scaleout_latency, 0.0)
    t = np.where(n_arr > 1, lat + np.maximum(intra, inter), 0.0 * size)
    return _scalar_if(t, size, n)


def p2p_time(size: Any, *, bw: Any, latency: Any, eff: float) -> Any:
    t = latency + size / (bw * eff)
    return _scalar_if(t, size, bw)
