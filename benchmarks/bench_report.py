"""Speed of the buyer report: in-process, from the CLI, and as pages in a real browser.

* the use case in-process (``buyer_report``: 9 chips searched, costed, one fair value with its
  4,000-sample range), cold and warm;
* ``suanli report --json`` wall time including Python start-up and imports;
* ``/report`` and ``/compare`` (default forms) in headless Chromium (Debian's, through
  Playwright, as ``tests/test_web_browser.py``): navigation start to the ranked table and the
  charts drawn, each first visit in a fresh browser context (empty HTTP cache: the Plotly bundle is
  fetched and compiled), against a ``suanli serve`` started here.

    python benchmarks/bench_report.py              # all three; --no-browser to skip the pages
    python benchmarks/bench_report.py --visits 5 --json

Targets (issue 12): ``/report`` <= 2 s and the compare page <= 1.5 s on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any

REPORT_TARGET_S, COMPARE_TARGET_S = 2.0, 1.5
CHROMIUM = os.environ.get("SUANLI_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def in_process() -> dict[str, float]:
    t0 = time.perf_counter()
    from suanli.app.report import buyer_report
    t1 = time.perf_counter()
    buyer_report()
    t2 = time.perf_counter()
    runs = []
    for _ in range(3):
        s = time.perf_counter()
        buyer_report(as_of="2025-07-15")
        runs.append(time.perf_counter() - s)
    return {"import_s": t1 - t0, "first_s": t2 - t1, "warm_median_s": statistics.median(runs)}


def cli() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "suanli", "report", "--json"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pages(visits: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ}
    env.pop("SUANLI_API_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "suanli", "serve", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("suanli serve did not start")
                time.sleep(0.2)
        out: dict[str, Any] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            for path, table, charts in (("/report", "#ranked tbody tr", ("#cost-chart", "#fair-chart")),
                                        ("/compare", "#ranking tbody tr", ("#frontier-chart",))):
                times = []
                for _ in range(visits):
                    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = ctx.new_page()
                    page.goto("about:blank")
                    start = time.perf_counter()
                    page.goto(url + path, wait_until="domcontentloaded")
                    page.wait_for_selector(table)
                    for c in charts:
                        page.wait_for_selector(f'{c}[data-rendered="true"] svg.main-svg', timeout=15_000)
                    times.append(time.perf_counter() - start)
                    ctx.close()
                out[path] = {"visits_s": times, "median_s": statistics.median(times)}
            browser.close()
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visits", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res: dict[str, Any] = {"in_process": in_process(), "cli_wall_s": cli(), "load_average": os.getloadavg()[0],
                           "cpus": os.cpu_count()}
    if not a.no_browser:
        res["pages"] = pages(a.visits)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    ip = res["in_process"]
    print(f"buyer_report in-process: first {ip['first_s']:.2f} s (after {ip['import_s']:.2f} s of imports), "
          f"warm median {ip['warm_median_s']:.2f} s")
    print(f"suanli report --json, wall incl. start-up: {res['cli_wall_s']:.2f} s")
    for path, target in (("/report", REPORT_TARGET_S), ("/compare", COMPARE_TARGET_S)):
        if "pages" in res:
            r = res["pages"][path]
            ok = "ok" if r["median_s"] <= target else "OVER TARGET"
            print(f"{path} first visit in Chromium: {', '.join(f'{t:.2f}' for t in r['visits_s'])} s; median "
                  f"{r['median_s']:.2f} s (target {target:g} s: {ok})")
    print(f"load average {res['load_average']:.1f} on {res['cpus']} CPUs")


if __name__ == "__main__":
    main()
