"""Measured-kernel op times (suanli.perf.kernels) on the bundled tables.

Needs only the package data (src/suanli/data/kernels), never the aiconfigurator wheel.
Tolerances: interpolation at a stored node is exact up to float rounding (1e-9 relative);
stored values are float16 log2 efficiencies, so anything compared with a number derived
outside the table gets 0.5 % (float16 spacing at |log2 eff| < 8 is <= 2^-7 -> 0.54 %).
"""

from __future__ import annotations

import ast
import time
from dataclasses import replace
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import suanli
from suanli.perf import kernel_ops as ops
from suanli.perf.kernel_grid import Grid
from suanli.perf.kernels import ChipPhysics, kernel_model, measured_plan, physics_of, plan_for
from suanli.specs.accelerator import load_hardware
from suanli.specs.kernels import backend_order, load_kernel_tables, physics_fields

TABLES = load_kernel_tables()
HW = load_hardware()
SRC = Path(suanli.__file__).resolve().parent


def chip(acc_id: str) -> ChipPhysics:
    return ChipPhysics(**physics_fields(HW.get(acc_id)))


H100 = kernel_model(TABLES, chip("nvidia_h100_sxm"), "vllm")


def clone(system: str, **changes: object) -> ChipPhysics:
    """A chip with a system's physics but an id the tables do not know (transfer path)."""
    return replace(physics_of(TABLES.systems[system]), id="test_chip", **changes)


def only(*systems: str):
    """The tables restricted to some systems (fixes the transfer source)."""
    return replace(TABLES, surfaces={k: v for k, v in TABLES.surfaces.items() if k[1] in systems})


H200_ONLY = only("h200_sxm")
H100_ONLY = only("h100_sxm")


def surface(kind: str, system: str, backend: str, variant: str):
    return TABLES.surfaces[(kind, system, backend, variant)]


def node(surf, *index: int) -> tuple[np.ndarray, ...]:
    coords = tuple(np.array([surf.axes[d][i]]) for d, i in enumerate(index))
    return ops.node_args(surf.kind, coords)


# --- hand calculations ---------------------------------------------------------------------

def test_large_bf16_gemm_is_flops_over_peak_times_table_efficiency() -> None:
    surf = surface("gemm", "h100_sxm", "vllm", "bf16")
    i, j, k = (int(np.argmin(np.abs(a - 13.0))) for a in surf.axes)   # m = n = k = 8192
    assert [surf.axes[d][x] for d, x in enumerate((i, j, k))] == [13.0, 13.0, 13.0]
    eff = 2.0 ** surf.values[i, j, k]
    m = n = kk = 8192.0
    flops = 2 * m * n * kk
    nbytes = 2 * (m * kk + n * kk + m * n)
    expected = max(flops / 989e12, nbytes / 3.35e12) / eff     # h100_sxm.yaml: 989 TFLOPS, 3.35 TB/s
    assert float(H100.gemm(m, n, kk)) == pytest.approx(expected, rel=1e-9)
    assert 0.6 < eff < 1.05   # a big BF16 GEMM on Hopper runs at 60-100 % of peak


def test_memory_bound_decode_attention_is_bytes_over_bandwidth() -> None:
    surf = surface("attn_decode", "h100_sxm", "vllm", "bf16")
    # batch*kv_heads = 64, ctx = 8192, gqa = 4, head_dim 128 -> all grid nodes
    idx = [int(np.argmin(np.abs(a - v))) for a, v in zip(surf.axes, (6.0, 13.0, 2.0, 7.0))]
    assert [surf.axes[d][x] for d, x in enumerate(idx)] == [6.0, 13.0, 2.0, 7.0]
    eff = 2.0 ** surf.values[tuple(idx)]
    batch, kvh, heads, ctx, hd = 8.0, 8.0, 32.0, 8192.0, 128.0
    kv = 2 * batch * kvh * hd * ctx * 2          # K and V, BF16
    q_o = 2 * batch * heads * hd * 2
    flops = 4 * batch * heads * hd * ctx
    assert flops / 989e12 < (kv + q_o) / 3.35e12  # memory-bound
    expected = (kv + q_o) / 3.35e12 / eff
    got = float(H100.attn_decode(batch, ctx, heads, kvh, hd))
    assert got == pytest.approx(expected, rel=1e-9)
    assert 0.3 < eff < 1.1


# Rows of the source tables (not shipped; numbers copied with their location).  Tolerances:
# 2 % where the row sits on a grid node of an exact axis (float16 storage + the monotone
# envelope), 15 % where the surface pools rows into 1-octave bins (MoE in-sample sigma).
SOURCE_ROWS = [
    # (accelerator, engine, kind, args, dtype, seconds, rel. tolerance, where)
    ("nvidia_h100_sxm", "vllm", "gemm", (32768, 65536, 12288), "bf16", 60.32404e-3, 0.02,
     "aiconfigurator-core 0.12.0 h100_sxm/gemm/vllm/0.24.0/gemm_perf.parquet"),
    ("nvidia_h100_sxm", "trtllm", "allreduce", (2 * 268435456, 8), "nccl", 2.11106e-3, 0.02,
     "h100_sxm/comm/nccl/2.27.3/nccl_perf.parquet, all_reduce, 268435456 half elements"),
    ("nvidia_h100_sxm", "trtllm", "moe", (16384, 7168, 2048, 8, 256, 1, 1), "fp8_block", 28.0981e-3,
     0.15, "h100_sxm/moe/trtllm/1.3.0rc20/moe_perf.parquet, balanced"),
    ("nvidia_h20_96gb", "sglang", "gemm", (128, 6144, 2048), "fp8_block", 16.166e-6, 0.02,
     "InferSim bench_data/gemm/h20/data.csv (m=128, k=2048, n=6144)"),
    ("nvidia_h20_96gb", "sglang", "moe", (1024, 2048, 1560, 8, 96, 1, 1), "fp8_block",
     (637.06 + 332.791) * 1e-6, 0.15, "InferSim bench_data/grouped_gemm/prefill/h20/data.csv"),
]


@pytest.mark.parametrize("row", SOURCE_ROWS, ids=lambda r: f"{r[0]}-{r[2]}-{r[4]}")
def test_rows_of_the_source_tables(row: tuple) -> None:
    acc, engine, kind, args, dtype, seconds, tol, _where = row
    model = kernel_model(TABLES, chip(acc), engine)
    assert model.basis[f"{kind}:{model.plan(kind, dtype).variant}"].startswith("measured-kernels:")
    if kind == "allreduce":
        got = float(model.allreduce(*args, impl=dtype))
    else:
        got = float(getattr(model, kind)(*args, dtype))
    assert got == pytest.approx(seconds, rel=tol)


def test_roofline_prior_for_a_chip_without_tables() -> None:
    mi300 = kernel_model(TABLES, chip("amd_mi300x"), "vllm")
    assert mi300.basis["gemm"] == "roofline-prior"
    prior = TABLES.priors["gemm"]
    m = n = k = 16384.0
    expected = prior["t0"] + 2 * m * n * k / (1307.4e12 * prior["compute_eff"])
    assert float(mi300.gemm(m, n, k)) == pytest.approx(expected, rel=1e-9)
    assert mi300.rel_sigma("gemm") >= 0.5


# --- the stored data ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", [
    ("gemm", "h100_sxm", "vllm", "fp8_block"), ("moe", "b200_sxm", "trtllm", "nvfp4"),
    ("attn_prefill", "h200_sxm", "sglang", "bf16"), ("mla_decode", "h20", "infersim", "bf16"),
    ("allreduce", "gb200", "trtllm", "graph"), ("alltoall", "h100_sxm", "sglang", "low_latency"),
])
def test_interpolator_reproduces_stored_nodes(key: tuple[str, str, str, str]) -> None:
    surf = TABLES.surfaces[key]
    kind, system, backend, variant = key
    km = kernel_model(TABLES, physics_of(TABLES.systems[system]), backend)
    plan = km.plan(kind, variant)
    assert plan.surface is surf and plan.basis == f"measured-kernels:{system}/{backend}"
    rng = np.random.default_rng(0)
    measured = np.argwhere(surf.measured)
    for index in measured[rng.choice(len(measured), size=min(25, len(measured)), replace=False)]:
        args = node(surf, *index)
        flops, nbytes = ops.WORK[kind](variant, *args)
        phys = physics_of(TABLES.systems[system])
        roof = ops.roofline_time(kind, variant, flops, nbytes,
                                 peak=phys.peak(ops.compute_key(kind, variant)),
                                 mem_bw=phys.mem_bw, link_bw=phys.link_bw)
        stored = roof / 2.0 ** surf.values[tuple(index)]
        assert plan.time(args) == pytest.approx(stored, rel=1e-9)


def test_grid_is_multilinear_and_clamps() -> None:
    g = Grid([np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0])], np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]))
    got = g([np.array([0.0, 1.0, 3.0, 2.0, -1.0, 5.0]), np.array([0.0, 2.0, 2.0, 1.0, 0.0, 9.0])])
    assert got.tolist() == [1.0, 4.0, 7.0, 4.75, 1.0, 7.0]
    assert g.inside([np.array([2.0, 5.0]), np.array([1.0, 1.0])]).tolist() == [True, False]


def test_provenance_and_read_only_arrays() -> None:
    meta = TABLES.meta["wheel"]
    assert meta["package"] == "aiconfigurator-core" and len(meta["sha256"]) == 64
    for surf in TABLES.surfaces.values():
        prov = surf.provenance
        assert prov["license"] == "Apache-2.0"
        assert prov["source"] and prov["files"] and prov["released"]
        assert all("silicon" not in f for f in prov["files"])
        assert not surf.values.flags.writeable and not surf.measured.flags.writeable
        assert np.isfinite(surf.values).all() and surf.measured.any() and surf.t0 > 0


def test_package_data_stays_small() -> None:
    root = files("suanli") / "data" / "kernels"
    size = sum(p.stat().st_size for p in Path(str(root)).iterdir() if p.is_file())
    assert size <= 3_000_000


# --- invariants ----------------------------------------------------------------------------------

def test_zero_work_takes_zero_time() -> None:
    km = kernel_model(TABLES, clone("h100_sxm"), "vllm")
    for model in (H100, km):
        assert float(model.gemm(0, 4096, 4096)) == 0.0
        assert float(model.moe(0, 7168, 2048, 8, 256, 1, 8, "fp8")) == 0.0
        assert float(model.attn_prefill(0, 1024, 32, 8, 128)) == 0.0
        assert float(model.attn_decode(4, 0, 32, 8, 128)) == 0.0
        assert float(model.mla_decode(0, 4096, 16)) == 0.0
        assert float(model.allreduce(1e6, 1)) == 0.0
        assert float(model.alltoall(0, 8)) == 0.0


def test_vectorised_equals_scalar_calls() -> None:
    m = np.array([1.0, 7.0, 64.0, 300.0, 5000.0])
    n = np.array([[4096.0], [1536.0]])
    grid = H100.gemm(m, n, 7168, "fp8")
    assert grid.shape == (2, 5)
    for i in range(2):
        for j in range(5):
            assert grid[i, j] == pytest.approx(float(H100.gemm(m[j], n[i, 0], 7168, "fp8")), rel=1e-12)
    b, ctx = np.array([1.0, 16.0, 128.0]), np.array([100.0, 5000.0, 70000.0])
    vec = H100.attn_decode(b, ctx, 64, 8, 128, "fp8")
    assert vec.tolist() == [float(H100.attn_decode(x, c, 64, 8, 128, "fp8")) for x, c in zip(b, ctx)]


pos = st.floats(min_value=1.0, max_value=2.0**15)


def gemm_time(tables, chip_: ChipPhysics, rule: str, m: float, n: float, k: float) -> float:
    plan = plan_for(tables, chip_, "vllm", "gemm", ("bf16",), rule=rule)
    return float(plan.time((np.float64(m), np.float64(n), np.float64(k))))


@settings(max_examples=40, deadline=None)
@given(m=pos, n=st.floats(32, 65536), k=st.floats(32, 65536), scale=st.floats(1.0, 8.0))
def test_more_bandwidth_or_flops_is_never_slower(m: float, n: float, k: float, scale: float) -> None:
    # the source is fixed (H200 tables only): choosing another source is a separate decision
    base = clone("h200_sxm")
    fast_mem = replace(base, mem_bw=base.mem_bw * scale)
    fast_alu = replace(base, peak_flops={key: v * scale for key, v in base.peak_flops.items()})
    more_sms = replace(base, sm_count=int(132 * scale))
    for rule in ("A", "B", "C"):
        t0 = gemm_time(H200_ONLY, base, rule, m, n, k)
        for faster in (fast_mem, fast_alu, more_sms):
            assert gemm_time(H200_ONLY, faster, rule, m, n, k) <= t0 * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(b=st.floats(1, 512), ctx=st.floats(64, 65536), scale=st.floats(1.0, 8.0))
def test_more_bandwidth_speeds_up_memory_bound_decode(b: float, ctx: float, scale: float) -> None:
    base = clone("h100_sxm")
    fast = replace(base, mem_bw=base.mem_bw * scale)
    args = (np.float64(b), np.float64(ctx), np.float64(32), np.float64(8), np.float64(128))
    for rule in ("A", "B", "C"):
        t_base = plan_for(H100_ONLY, base, "vllm", "attn_decode", ("bf16",), rule=rule).time(args)
        t_fast = plan_for(H100_ONLY, fast, "vllm", "attn_decode", ("bf16",), rule=rule).time(args)
        assert float(t_fast) <= float(t_base) * (1 + 1e-12)
        if scale > 1.5 and b * ctx >= 2**16:     # clearly memory-bound and above the floor
            assert float(t_fast) < float(t_base)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_more_work_is_never_faster_at_stored_nodes(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from([k for k in TABLES.surfaces if k[0] not in ops.COMM_KINDS
                                     and k[1] in ("h100_sxm", "b200_sxm", "h20", "l40s")]))
    surf = TABLES.surfaces[key]
    plan = measured_plan(TABLES, physics_of(TABLES.systems[key[1]]), surf)
    index = [data.draw(st.integers(0, len(a) - 1)) for a in surf.axes]
    axis = data.draw(st.integers(0, len(surf.axes) - 1))
    if index[axis] == len(surf.axes[axis]) - 1:
        index[axis] -= 1
    if index[axis] < 0:
        return
    bigger = list(index)
    bigger[axis] += 1
    assert float(plan.time(node(surf, *bigger))[0]) >= float(plan.time(node(surf, *index))[0]) * (1 - 1e-9)


@pytest.mark.parametrize("system", ["h100_sxm", "b200_sxm", "h20", "l40s", "rtx_pro_6000_server"])
@pytest.mark.parametrize("rule", ["A", "B", "C"])
def test_transfer_to_identical_physics_reproduces_the_source(system: str, rule: str) -> None:
    twin = replace(physics_of(TABLES.systems[system]), id="twin")
    own = kernel_model(TABLES, physics_of(TABLES.systems[system]), "sglang")
    # a twin only sees its source system, so nearest() must pick it
    only = replace(TABLES, surfaces={k: v for k, v in TABLES.surfaces.items() if k[1] == system})
    moved = kernel_model(only, twin, "sglang", rule=rule)
    rng = np.random.default_rng(1)
    m, n, k = rng.uniform(1, 20000, 50), rng.uniform(64, 30000, 50), rng.uniform(64, 30000, 50)
    for kind, args in (("gemm", (m, n, k)), ("attn_decode", (m // 50 + 1, n, 32, 8, 128)),
                       ("mla_decode", (m // 50 + 1, n, 16))):
        if moved.plan(kind).surface is None:
            continue
        assert moved.basis[kind] == f"transferred:{system}"
        np.testing.assert_allclose(getattr(moved, kind)(*args), getattr(own, kind)(*args), rtol=1e-9)


# --- choosing sources ------------------------------------------------------------------------

def test_basis_of_measured_transferred_and_prior_chips() -> None:
    assert H100.basis["gemm"] == "measured-kernels:h100_sxm/vllm"
    h20 = kernel_model(TABLES, chip("nvidia_h20_96gb"), "sglang")
    assert h20.basis["gemm:fp8_block"] == "measured-kernels:h20/infersim"
    assert h20.basis["attn_decode"] == "measured-kernels:h20/infersim"
    l20 = kernel_model(TABLES, chip("nvidia_l20"), "vllm")
    assert l20.basis["gemm"].startswith("transferred:")
    ascend = kernel_model(TABLES, chip("huawei_ascend_910b"), "mindie")
    assert set(ascend.basis.values()) == {"roofline-prior"}
    for kind in ("gemm", "attn_decode", "moe"):
        assert H100.rel_sigma(kind) < l20.rel_sigma(kind) < ascend.rel_sigma(kind)


def test_same_architecture_comes_first() -> None:
    l20 = kernel_model(TABLES, chip("nvidia_l20"), "vllm")
    assert l20.basis["gemm"] == "transferred:l40s"          # the only Ada system
    pro6000d = kernel_model(TABLES, replace(chip("nvidia_rtx_pro_6000_bse"), id="pro6000d"), "vllm")
    assert pro6000d.basis["gemm"] == "transferred:rtx_pro_6000_server"


def test_weight_only_fallback_without_fp8_tensor_cores() -> None:
    a100 = kernel_model(TABLES, chip("nvidia_a100_sxm_80gb"), "vllm")
    plan = a100.plan("gemm", "fp8")
    assert plan.variant in ("int8_wo", "bf16")   # Ampere has no FP8 tensor cores


def test_extrapolation_is_reported() -> None:
    flags = H100.extrapolated("gemm", np.array([64.0, 1e6]), 4096, 4096)
    assert flags.tolist() == [False, True]
    mi300 = kernel_model(TABLES, chip("amd_mi300x"), "vllm")
    assert mi300.extrapolated("gemm", 64, 4096, 4096).all()


def test_engine_backends() -> None:
    assert backend_order("vllm")[0] == "vllm"
    assert backend_order("TensorRT-LLM")[0] == "trtllm"
    assert backend_order("mindie") == backend_order("other")


def test_unknown_dtype_is_a_clear_error() -> None:
    with pytest.raises(suanli.errors.InvalidInput, match="unknown dtype"):
        H100.gemm(1, 1, 1, "fp7")
    with pytest.raises(suanli.errors.MissingSpec, match="no published bf16"):
        kernel_model(TABLES, chip("nvidia_rtx_pro_6000d"), "vllm")   # no compute specs published


def test_one_call_is_cheap() -> None:
    b = np.array([1.0, 4.0, 16.0, 64.0, 256.0])
    H100.attn_decode(b, 4096, 32, 8, 128)
    start = time.perf_counter()
    for _ in range(200):
        H100.gemm(b, 4096, 4096)
        H100.attn_decode(b, 4096, 32, 8, 128)
    per_call = (time.perf_counter() - start) / 400
    assert per_call < 300e-6   # ~30-40 us on a laptop core; generous for shared CI machines


def test_perf_kernel_modules_do_no_io() -> None:
    from tests.test_layers import check_source  # the project's own layer checker
    for name in ("kernels", "kernel_ops", "kernel_grid"):
        path = SRC / "perf" / f"{name}.py"
        assert check_source(path.read_text(encoding="utf-8"), f"suanli.perf.{name}") == []
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] in {"os", "pathlib", "io", "json", "csv"} for m in imported)
