#!/usr/bin/env python3
"""Speed of the fair-price computation over a 20-point sensitivity grid.

    python benchmarks/bench_econ.py [--n 200]

Target (economics issue): fair price over a 20-point (4 utilisations x 5 electricity
prices) grid <= 1 s.  Measured three ways:

1. the pure solve (:func:`suanli.econ.fairvalue.fair_value`, closed form, one numpy
   broadcast for the grid) -- median of ``--n`` runs;
2. the whole use case in process (:func:`suanli.app.economics.fairprice`: data, both
   chips' deployment searches on the workload, the solve) -- cold (first call, catalogs
   and calibration loaded) and warm;
3. ``suanli fairprice ... --json`` as a subprocess, interpreter start-up included.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

ARGS = dict(option="cn_h20_141gb_server_leiphone", vs="cn_h200_8gpu_machine_2026", model="deepseek-ai/DeepSeek-R1")
GRID_U = (0.3, 0.5, 0.7, 0.9)
GRID_E = (0.315, 0.4725, 0.63, 0.7875, 0.945)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="repetitions of the pure solve")
    args = ap.parse_args()

    from suanli.econ.fairvalue import OptionCost, fair_value
    from suanli.econ.tco import TcoInputs

    base = dict(gpus_per_server=8, life_years=5, residual_fraction=0.1, financing_rate_annual=0.035, utilisation=0.7,
                electricity_price_per_kwh=0.63, pue=1.3, host_overhead_w_per_server=4600, busy_power_fraction=0.735,
                idle_power_fraction=0.25, hosting_price_per_kw_month=600, maintenance_fraction_per_year=0.04)
    x = OptionCost(name="x", gpu_hours_per_request=1024 / (3600 * 95), tokens_per_request=2048,
                   tco=TcoInputs(server_price=0.0, gpu_tdp_w=400, **base))
    y = OptionCost(name="y", gpu_hours_per_request=1024 / (3600 * 337), tokens_per_request=2048,
                   tco=TcoInputs(server_price=1.5e6, gpu_tdp_w=700, **base))
    times = []
    for _ in range(args.n):
        s = time.perf_counter()
        res = fair_value(x, y, grid_utilisation=GRID_U, grid_electricity=GRID_E)
        times.append(time.perf_counter() - s)
    cells = len(res.grid_fair_price) * len(res.grid_fair_price[0])
    print(f"pure fair_value + {cells}-point grid: median {statistics.median(times) * 1e6:.0f} us "
          f"(p90 {sorted(times)[int(0.9 * len(times))] * 1e6:.0f} us)")

    from suanli.app.econ_context import parse_mix
    from suanli.app.economics import fairprice

    for label in ("cold", "warm"):
        s = time.perf_counter()
        rep = fairprice(mix=parse_mix("chat"), grid_utilisation=GRID_U, **ARGS)
        print(f"use case fairprice (2 chips searched, {cells}-point grid), {label}: "
              f"{(time.perf_counter() - s) * 1e3:.0f} ms -> fair price {rep.result.fair_price:,.0f} {rep.currency}")

    cmd = [sys.executable, "-m", "suanli", "fairprice", "-m", ARGS["model"], "--option", ARGS["option"],
           "--vs", ARGS["vs"], "--workload", "chat", "--json"]
    s = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    print(f"suanli fairprice --json (subprocess incl. start-up): {time.perf_counter() - s:.2f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
