"""Multilinear interpolation on a rectilinear grid in log2 coordinates (pure numpy).

A :class:`Grid` holds log2-efficiency values at the nodes of a d-dimensional grid whose
axes are log2 shape features.  Queries interpolate linearly in each coordinate between the
two bracketing nodes; outside an axis' range they are clamped to its end node (the value
is extrapolated flat, which :meth:`Grid.inside` reports).  At a node the stored value is
returned exactly.  Everything is precomputed at construction, so one call costs a few
numpy operations per axis plus one gather (about 10-25 us for d = 3-4 on ~5 points).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Grid:
    __slots__ = ("axes", "values", "_flat", "_len2", "_lo", "_hi", "_shift", "_cat_x", "_cat_i",
                 "_strides", "_offsets", "_dims", "_range_lo", "_range_hi")

    def __init__(self, axes: Sequence[np.ndarray], values: np.ndarray) -> None:
        axes_l: list[np.ndarray] = []
        vals = np.asarray(values, dtype=float)
        if vals.ndim != len(axes) or vals.ndim == 0:
            raise ValueError(f"values have {vals.ndim} dims for {len(axes)} axes")
        self._range_lo = np.array([float(np.min(a)) for a in axes])
        self._range_hi = np.array([float(np.max(a)) for a in axes])
        for dim, axis in enumerate(axes):
            axis = np.asarray(axis, dtype=float)
            if axis.ndim != 1 or axis.size != vals.shape[dim] or axis.size == 0:
                raise ValueError(f"axis {dim}: {axis.size} nodes for {vals.shape[dim]} values")
            if axis.size == 1:  # constant along this axis: duplicate the node
                axis = np.array([axis[0], axis[0] + 1.0])
                vals = np.concatenate([vals, vals], axis=dim)
            if np.any(np.diff(axis) <= 0):
                raise ValueError(f"axis {dim} is not strictly increasing")
            axes_l.append(axis)
        self.axes = tuple(axes_l)
        self.values = vals
        self._flat = np.ascontiguousarray(vals).ravel()
        d = len(axes_l)
        self._dims = d
        lens = np.array([a.size for a in axes_l])
        self._len2 = (lens - 2)[:, None]
        self._lo = np.array([a[0] for a in axes_l])[:, None]
        self._hi = np.array([a[-1] for a in axes_l])[:, None]
        # All axes on one increasing line (axis d shifted past axis d-1), so that a single
        # np.interp returns every axis' fractional node index at once.
        shift = np.zeros(d)
        for dim in range(1, d):
            shift[dim] = shift[dim - 1] + (axes_l[dim - 1][-1] - axes_l[dim - 1][0]) + 1.0 \
                + (axes_l[dim - 1][0] - axes_l[dim][0])
        self._shift = shift[:, None]
        self._cat_x = np.concatenate([a + shift[dim] for dim, a in enumerate(axes_l)])
        self._cat_i = np.concatenate([np.arange(a.size, dtype=float) for a in axes_l])
        strides = np.ones(d, dtype=np.intp)
        for dim in range(d - 2, -1, -1):
            strides[dim] = strides[dim + 1] * lens[dim + 1]
        self._strides = strides[:, None]
        corners = np.array([[(c >> (d - 1 - dim)) & 1 for dim in range(d)]
                            for c in range(2**d)], dtype=np.intp)      # (2^d, d)
        self._offsets = corners @ strides                              # (2^d,)

    @property
    def ndim(self) -> int:
        return self._dims

    def __call__(self, coords: Sequence[np.ndarray], shape: tuple[int, ...] | None = None
                 ) -> np.ndarray:
        """Interpolated values at log2 coordinates (arrays broadcastable to ``shape``;
        default: 1-D arrays of equal length).  Returns an array of that shape."""
        if shape is None:
            shape = np.shape(coords[0])
        x = np.empty((self._dims,) + tuple(shape))
        for dim, c in enumerate(coords):
            x[dim] = c
        x = x.reshape(self._dims, -1)
        np.maximum(x, self._lo, out=x)                                 # flat extrapolation
        np.minimum(x, self._hi, out=x)
        x += self._shift
        fi = np.interp(x, self._cat_x, self._cat_i)                    # (d, n)
        i0 = np.minimum(fi.astype(np.intp), self._len2)
        w = fi - i0
        vals = self._flat[(i0 * self._strides).sum(axis=0) + self._offsets[:, None]]  # (2^d, n)
        # multilinear: collapse one axis at a time (corner index = bits, axis 0 first)
        for dim in range(self._dims):
            half = vals.shape[0] // 2
            lo = vals[:half]
            vals = lo + (vals[half:] - lo) * w[dim]
        return vals[0].reshape(shape)

    def inside(self, coords: Sequence[np.ndarray]) -> np.ndarray:
        """True where every coordinate lies within its axis' node range (not clamped)."""
        ok = np.ones(np.broadcast_shapes(*(np.shape(c) for c in coords)), dtype=bool)
        for dim, c in enumerate(coords):
            ok &= (c >= self._range_lo[dim] - 1e-9) & (c <= self._range_hi[dim] + 1e-9)
        return ok
