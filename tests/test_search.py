"""Deployment search, compare and pareto: hand-checked small cases, agreement
of the vectorised search with the scalar predictor, multi-node physics and
backend equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.app.compare import ChipResult, best_under_targets, compare, default_chips, pareto, sweep
from suanli.app.predict import predict
from suanli.errors import InvalidInput, SuanliError
from suanli.perf.search import pareto_front
from suanli.specs.accelerator import load_hardware


def test_pareto_front_hand_example():
    # points (x=tok/s/user, y=tok/s/GPU):
    #   0:(1,10) 1:(2,9) 2:(2,5) 3:(3,4) 4:(0.5,8) 5:(3,6)
    # 4 is dominated by 0 (x 1>0.5, y 10>8); 2 by 1; 3 by 5.  Front sorted by x: 0, 1, 5.
    x = np.array([1, 2, 2, 3, 0.5, 3.0])
    y = np.array([10, 9, 5, 4, 8, 6.0])
    assert list(pareto_front(x, y)) == [0, 1, 5]
    assert list(pareto_front(np.array([]), np.array([]))) == []


def _cols(**kw):
    n = len(kw["ttft_s"])
    base = {k: np.ones(n) for k in ("gpus", "tp", "pp", "ep", "dp_attention", "x_prefill", "y_decode",
                                     "prefill_gpus", "decode_gpus", "batch", "req_s_per_unit")}
    base.update(arch=np.array(["agg"] * n, dtype=object), weight_dtype=np.array(["bf16"] * n, dtype=object),
                kv_dtype=np.array(["bf16"] * n, dtype=object))
    base.update({k: np.asarray(v, dtype=float) for k, v in kw.items()})
    base["tok_s_per_user"] = 1 / base["tpot_s"]
    return base


def test_best_under_targets_picks_fastest_feasible_and_sizes_the_fleet():
    cols = _cols(ttft_s=[0.5, 1.0, 3.0], tpot_s=[0.02, 0.04, 0.06], output_tok_s_per_gpu=[100, 300, 900],
                 req_s_per_unit=[1.0, 2.5, 9.0], gpus=[2, 2, 2])
    res = {"hardware": "x", "columns": cols, "gpus_per_server": 8}
    best = best_under_targets(res, ttft_ms=2000, tpot_ms=50, request_rate=10)
    # row 2 breaks TTFT; row 1 (300 tok/s/GPU) beats row 0.  10 req/s / 2.5 per unit = 4 units
    # of 2 GPUs = 8 GPUs = 1 server of 8.
    assert best.feasible and best.output_tok_s_per_gpu == 300
    assert (best.gpus_needed, best.servers_needed) == (8, 1)


def test_infeasible_target_reports_floor_and_closest():
    cols = _cols(ttft_s=[0.5, 0.4], tpot_s=[0.061, 0.08], output_tok_s_per_gpu=[50, 80])
    best = best_under_targets({"hardware": "x", "columns": cols, "gpus_per_server": 8},
                              ttft_ms=None, tpot_ms=50, request_rate=None)
    assert not best.feasible
    assert "TPOT floor 61 ms at batch 1 > 50 ms target" in best.reason
    assert best.closest is not None and best.closest["tpot_ms"] == pytest.approx(61)


@pytest.mark.parametrize("batch", [1, 8, 64])
def test_vectorised_search_equals_scalar_prediction(batch):
    # The search evaluates every (layout, batch) with numpy; a row of its table must equal
    # what the scalar predictor gives for the same deployment at that concurrency.
    cols = sweep("Qwen/Qwen3-8B", ["H100"], isl=512, osl=128, max_gpus=2, disagg=False, backend="serial",
                 weight_dtypes=["bf16"], kv_dtypes=["bf16"])
    sel = (cols["tp"] == 2) & (cols["pp"] == 1) & (cols["batch"] == batch)
    assert sel.sum() == 1
    i = int(np.flatnonzero(sel)[0])
    p = predict("Qwen/Qwen3-8B", "H100", gpus=2, tp=2, isl=512, osl=128, concurrency=batch,
                scenario="fixed-concurrency", weight_dtype="bf16", kv_dtype="bf16")
    assert cols["tpot_s"][i] * 1e3 == pytest.approx(p.tpot_ms, rel=1e-9)
    assert cols["ttft_s"][i] * 1e3 == pytest.approx(p.ttft_ms, rel=1e-9)
    assert cols["output_tok_s_per_gpu"][i] == pytest.approx(p.output_tok_s_per_gpu, rel=1e-9)


def test_cross_node_expert_parallel_is_slower_without_infiniband():
    # DeepSeek-R1 over 16 H20-141GB (two 8-GPU servers): EP16 all-to-all crosses the servers.
    # The common Chinese 8xH20-141GB server has no InfiniBand NIC (6.25 Gb/s per GPU of shared
    # Ethernet); an HGX-class server has 400 Gb/s InfiniBand per GPU.  Same chip, same layout:
    # only the scale-out network differs, so the decode step must be slower on the first.
    from suanli.specs.system import load_systems

    systems = load_systems()
    no_ib = systems.get("cn_h20_141gb_server_leiphone")
    ib = systems.get("hgx_b200_nebius_mlperf")
    assert no_ib.scaleout_gbps_per_gpu < 50 <= ib.scaleout_gbps_per_gpu
    kw = dict(gpus=16, tp=16, ep=16, isl=2048, osl=512, concurrency=64, weight_dtype="fp8")
    slow = predict("deepseek-ai/DeepSeek-R1", "H20-141G", system=no_ib, **kw)
    fast = predict("deepseek-ai/DeepSeek-R1", "H20-141G", system=ib, **kw)
    ep = lambda p: p.decode_breakdown_ms["moe_dispatch"] + p.decode_breakdown_ms["moe_combine"]  # noqa: E731
    assert ep(slow) > 5 * ep(fast)
    assert slow.tpot_ms > fast.tpot_ms
    # within one server the network does not matter
    kw8 = dict(kw, gpus=8, tp=8, ep=8)
    assert predict("deepseek-ai/DeepSeek-R1", "H20-141G", system=no_ib, **kw8).tpot_ms == \
        pytest.approx(predict("deepseek-ai/DeepSeek-R1", "H20-141G", system=ib, **kw8).tpot_ms)


def test_compare_ranks_and_explains():
    res = compare("Qwen/Qwen3-32B", ["H20", "H200", "L20"], isl=2048, osl=512, ttft_ms=3000, tpot_ms=60,
                  request_rate=10, backend="serial")
    feasible = [c for c in res.chips if c.feasible]
    assert feasible, "an H200 serves Qwen3-32B at 60 ms TPOT"
    rates = [c.output_tok_s_per_gpu for c in feasible]
    assert rates == sorted(rates, reverse=True)
    for c in feasible:
        assert c.ttft_ms <= 3000 and c.tpot_ms <= 60
        assert c.gpus_needed >= 1 and c.servers_needed >= 1
    h200 = next(c for c in res.chips if c.hardware == "nvidia_h200_sxm")
    h20 = next(c for c in res.chips if c.hardware == "nvidia_h20_96gb")
    # H200: 6.7x the H20's dense BF16/FP8 throughput and 1.2x its bandwidth -> more tok/s/GPU
    assert h200.feasible and (not h20.feasible or h200.output_tok_s_per_gpu > h20.output_tok_s_per_gpu)


def test_impossible_targets_give_reason_and_alternative():
    res = compare("Qwen/Qwen3-32B", ["H20"], isl=2048, osl=512, tpot_ms=1.0, backend="serial")
    (c,) = res.chips
    assert not c.feasible and "TPOT floor" in c.reason and c.closest is not None


def test_model_that_does_not_fit_is_explained():
    res = compare("deepseek-ai/DeepSeek-R1", ["L20"], isl=1024, osl=256, max_gpus=8, backend="serial")
    (c,) = res.chips
    assert not c.feasible and "not fit" in c.reason


@pytest.mark.parametrize("kw", [dict(max_gpus=0), dict(max_gpus=100000), dict(gpus=8, max_gpus=8)])
def test_impossible_gpu_budgets(kw):
    with pytest.raises(InvalidInput):
        compare("Qwen/Qwen3-8B", ["H20"], isl=100, osl=10, backend="serial", **kw)


def test_unknown_chip_is_one_clear_error():
    with pytest.raises(SuanliError, match="closest"):
        compare("Qwen/Qwen3-8B", ["H21"], isl=100, osl=10, backend="serial")


def test_default_chip_list_is_buyable_plus_reference():
    cat = load_hardware()
    chips = default_chips(cat)
    assert "nvidia_h20_96gb" in chips and "nvidia_h100_sxm" in chips and "nvidia_h200_sxm" in chips
    for c in chips:
        acc = cat.get(c)
        assert acc.china_buyable or c in ("nvidia_h100_sxm", "nvidia_h200_sxm")
        assert not acc.unverified


def test_pareto_points_are_not_dominated():
    (front,) = pareto("Qwen/Qwen3-8B", ["H100"], isl=1024, osl=256, max_gpus=2, backend="serial")
    xs = [p["tok_s_per_user"] for p in front.points]
    ys = [p["output_tok_s_per_gpu"] for p in front.points]
    assert xs == sorted(xs)
    assert all(ys[i] > ys[i + 1] for i in range(len(ys) - 1))  # more interactivity costs throughput


def test_backends_give_identical_results():
    kw = dict(isl=1024, osl=256, ttft_ms=2000, tpot_ms=40, max_gpus=4)
    serial = compare("Qwen/Qwen3-8B", ["H100", "H20", "L20"], backend="serial", **kw).to_dict()
    local = compare("Qwen/Qwen3-8B", ["H100", "H20", "L20"], backend="local", **kw).to_dict()
    assert serial == local


def test_ray_backend_matches_local():
    ray = pytest.importorskip("ray")
    kw = dict(isl=1024, osl=256, ttft_ms=2000, tpot_ms=40, max_gpus=2)
    try:
        on_ray = compare("Qwen/Qwen3-8B", ["H100", "L20"], backend="ray", **kw).to_dict()
    finally:
        ray.shutdown()
    local = compare("Qwen/Qwen3-8B", ["H100", "L20"], backend="local", **kw).to_dict()
    assert on_ray == local


def test_chip_result_serialises():
    c = ChipResult(hardware="x", name="x", feasible=False, reason="r", unverified=True)
    assert c.to_dict()["unverified"] is True
