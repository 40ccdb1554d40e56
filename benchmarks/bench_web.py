"""Throughput and latency of the web API's ``/api/predict`` endpoint.

Starts ``suanli serve`` on 127.0.0.1 (a free port), then runs a bounded load generator
against it: ``--clients`` concurrent asyncio clients (httpx, keep-alive) send at most
``--requests`` requests and stop after ``--duration`` seconds, whichever comes first.
Every request asks for a different workload (input length, concurrency and model vary), so
no cache answers for the server.  Prints requests/s, latency percentiles and errors.

    python benchmarks/bench_web.py                   # 1 worker, 8 clients, 3000 requests / 30 s
    python benchmarks/bench_web.py --workers 2 --json

Target (issue): >= 200 requests/s on the project's 2-core machine.  The load generator
runs on the same cores as the server, so the figure is a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

TARGET_RPS = 200.0
MODELS = ("Qwen/Qwen3-32B", "Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B")
CHIPS = ("H20", "H200", "910B", "L20")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _params(i: int) -> dict[str, Any]:
    return {"model": MODELS[i % len(MODELS)], "hardware": CHIPS[(i // 3) % len(CHIPS)],
            "isl": 512 + (i * 37) % 4096, "osl": 128 + (i * 11) % 512, "concurrency": 1 + (i * 7) % 64}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its children (Linux /proc), None elsewhere."""
    try:
        pids = [pid]
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(c) for c in f.read().split()]
        total = 0.0
        for p in pids:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total
    except (OSError, ValueError, IndexError):
        return None


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    env.pop("SUANLI_API_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "suanli", "serve", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 90 s")


async def load(url: str, *, clients: int, requests: int, duration: float, pid: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(requests))
    stop_at = time.perf_counter() + duration

    async def client(c: httpx.AsyncClient) -> None:
        for i in counter:
            if time.perf_counter() > stop_at:
                return
            t0 = time.perf_counter()
            try:
                r = await c.get(url, params=_params(i))
                ok = r.status_code == 200
                key = str(r.status_code)
            except httpx.HTTPError as exc:
                ok, key = False, type(exc).__name__
            latencies.append(time.perf_counter() - t0)
            if not ok:
                errors[key] = errors.get(key, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as c:
        for i in range(20):  # warm-up (imports, catalogs in every worker), not counted
            await c.get(url, params=_params(10_000 + i))
        cpu0 = cpu_seconds(pid)
        start = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        wall = time.perf_counter() - start
        cpu1 = cpu_seconds(pid)
    server_cpu_ms = (cpu1 - cpu0) * 1e3 / max(1, len(latencies)) if cpu0 is not None and cpu1 is not None else None
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {"requests": len(latencies), "wall_s": wall, "req_per_s": len(latencies) / wall,
            "server_cpu_ms_per_request": server_cpu_ms,
            "capacity_req_per_s_per_core": 1e3 / server_cpu_ms if server_cpu_ms else None,
            "latency_ms": {"p50": q[49] * 1e3, "p90": q[89] * 1e3, "p99": q[98] * 1e3, "max": max(latencies) * 1e3},
            "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--requests", type=int, default=3000, help="at most this many requests (default 3000)")
    ap.add_argument("--duration", type=float, default=30.0, help="and at most this many seconds (default 30)")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if not (1 <= args.clients <= 256 and 1 <= args.requests <= 100_000 and 0 < args.duration <= 600):
        raise SystemExit("bounds: clients 1..256, requests 1..100000, duration 0..600 s")
    port = _free_port()
    proc = start_server(port, args.workers)
    try:
        res = asyncio.run(load(f"http://127.0.0.1:{port}/api/predict", clients=args.clients,
                               requests=args.requests, duration=args.duration, pid=proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    res.update(workers=args.workers, clients=args.clients, cpus=os.cpu_count(), target_req_per_s=TARGET_RPS,
               load_average=os.getloadavg()[0])
    if args.json:
        print(json.dumps(res))
        return
    lat = res["latency_ms"]
    print(f"/api/predict: {res['requests']} requests in {res['wall_s']:.1f} s = {res['req_per_s']:.0f} req/s "
          f"({args.workers} worker(s), {args.clients} clients, {res['cpus']} CPUs; target >= {TARGET_RPS:.0f})")
    print(f"latency ms: p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}  max {lat['max']:.1f}")
    if res["server_cpu_ms_per_request"]:
        print(f"server CPU per request: {res['server_cpu_ms_per_request']:.2f} ms -> "
              f"{res['capacity_req_per_s_per_core']:.0f} req/s per core the server can sustain "
              f"(independent of the load generator and of other processes)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {res['cpus']} CPUs")
    print(f"errors: {res['errors'] or 'none'}")


if __name__ == "__main__":
    main()
