"""Collective communication times (alpha-beta model).

``bw`` is the one-direction bandwidth per accelerator in bytes/s, ``latency``
the fixed cost of one collective in seconds.  Functions accept numpy arrays
for the message size.  Formulas: ring all-reduce moves 2(n-1)/n of the
message through each accelerator's link; all-to-all sends (n-1)/n of a rank's
tokens away; point-to-point sends the message once (Thakur, Rabenseifner &
Gropp 2005, "Optimization of collective communication operations in MPICH").
"""

from __future__ import annotations

import numpy as np


def _group_bw(n: int, node_size: int, link_bw: float, scaleout_bw: float) -> float:
    """Bandwidth a ring over ``n`` ranks sees: the slowest hop.  Within one
    node that is the scale-up link; once the group spans nodes the ring must
    cross the scale-out NIC."""
    return link_bw if n <= node_size else min(link_bw, scaleout_bw)


def allreduce_time(size: "np.ndarray | float", n: int, *, link_bw: float, scaleout_bw: float, node_size: int,
                   latency: float, scaleout_latency: float, eff: float) -> "np.ndarray | float":
    if n <= 1:
        return size * 0.0
    bw = _group_bw(n, node_size, link_bw, scaleout_bw) * eff
    lat = latency + (scaleout_latency if n > node_size else 0.0)
    return lat + 2.0 * (n - 1) / n * size / bw


def alltoall_time(size: "np.ndarray | float", n: int, *, link_bw: float, scaleout_bw: float, node_size: int,
                  latency: float, scaleout_latency: float, eff: float) -> "np.ndarray | float":
    """``size``: bytes one rank holds for redistribution.  Of what leaves the
    rank, the share addressed to other nodes crosses the NIC; the two parts
    move in parallel."""
    if n <= 1:
        return size * 0.0
    away = size * (n - 1) / n
    if n <= node_size:
        return latency + away / (link_bw * eff)
    remote_share = (n - node_size) / (n - 1)
    intra = away * (1 - remote_share) / (link_bw * eff)
    inter = away * remote_share / (scaleout_bw * eff)
    return latency + scaleout_latency + np.maximum(intra, inter)


def p2p_time(size: "np.ndarray | float", *, bw: float, latency: float, eff: float) -> "np.ndarray | float":
    return latency + size / (bw * eff)
