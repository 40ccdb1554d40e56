"""Browser tests: a real ``suanli serve`` on 127.0.0.1 driven by Debian's Chromium (headless)
through Playwright for Python.

* every page loads without a JavaScript error and shows its content;
* the compare form submits and renders the ranked table and the Plotly chart (SVG);
* the compare page for the default workload renders within the target (printed);
* on a phone-sized viewport no page scrolls sideways (tables scroll inside their box).

Needs ``/usr/bin/chromium`` (``scripts/ci-browser.sh`` installs it; never ``playwright
install``).  Without it the tests skip locally but FAIL when ``CI`` is set.
Set ``SUANLI_SCREENSHOT=docs/compare.png`` to refresh the screenshot in the docs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = os.environ.get("SUANLI_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
RENDER_TARGET_S = 1.5  # compare page, default workload, on the project's 2-core machine
REPORT_TARGET_S = 2.0  # /report, default form, same machine
PAGES = {"/": "h1", "/report": "#ranked", "/fairprice": "#fair-value", "/compare": "#ranking", "/chips": "#chips",
         "/chips/H20": "#timeline", "/market": "h1", "/dealer": "#plan", "/accuracy": "#per-chip",
         "/profiles": "#profiles", "/profiles/lab": "#points", "/runs": "#upload-form", "/docs": "h1"}
CHART_PAGES = {"/compare": "#frontier-chart", "/dealer": "#dealer-chart", "/accuracy": "#scatter-chart",
               "/report": "#cost-chart", "/fairprice": "#fair-chart", "/profiles/lab": "#profile-scatter"}
TOKEN = "browser-test-token"
CASES = Path(__file__).parent / "data" / "cases-public.csv"
RUN_FILE = Path(__file__).parent / "data" / "bench-formats" / "vllm" / "llm-k8s_tp8_pp1_sharegpt_qps_04.summary_only.json"


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: browser tests must run; see scripts/ci-browser.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``suanli serve`` in a subprocess (the real CLI and uvicorn), stopped at the end; its
    database holds calibration profile ``lab`` (fitted on a few public H20 cases) and writes
    take :data:`TOKEN`."""
    pytest.importorskip("uvicorn")
    import csv

    from suanli.app.profiles import calibrate_rows

    port = _free_port()
    db = tmp_path_factory.mktemp("web") / "market.sqlite3"
    with CASES.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["hardware"] == "nvidia_h20_96gb" and r["model"].startswith("Qwen/")]
    calibrate_rows(rows[:6], name="lab", db=f"sqlite:///{db}")
    env = {**os.environ, "SUANLI_DATABASE_URL": f"sqlite:///{db}", "SUANLI_API_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "suanli", "serve", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"suanli serve exited: {proc.stdout.read() if proc.stdout else ''}")
                if time.monotonic() > deadline:
                    raise RuntimeError("suanli serve did not answer within 60 s")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    p.js_errors = errors
    yield p
    ctx.close()


def _chart_rendered(page: Any, selector: str) -> None:
    page.wait_for_selector(f'{selector}[data-rendered="true"] svg.main-svg', timeout=15_000)
    assert page.locator(f"{selector} svg.main-svg").count() >= 1
    assert page.locator(f"{selector} .scatterlayer .trace, {selector} .barlayer .trace").count() >= 1


def _render(page: Any, url: str) -> float:
    start = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#ranking tbody tr")
    _chart_rendered(page, "#frontier-chart")
    return time.perf_counter() - start


def test_compare_page_default_workload_render_time(server: str, browser: Any) -> None:
    """Navigation start to ranked table and Pareto chart drawn (SVG), for the default workload
    (what the server precomputes at startup), in a fresh browser context each time (empty
    HTTP cache: the Plotly bundle is fetched and compiled).  The median of three first visits
    must meet the target; a repeat visit and a workload nobody asked for before (computed on
    request) are timed and printed too."""
    first: list[float] = []
    for _ in range(3):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        p = ctx.new_page()
        errors: list[str] = []
        p.on("pageerror", lambda exc, errs=errors: errs.append(str(exc)))
        p.goto("about:blank")  # the renderer is up, as in a browser a person has open
        first.append(_render(p, server + "/compare"))
        assert errors == []
        if len(first) < 3:
            ctx.close()
    repeat = _render(p, server + "/compare")
    uncached = _render(p, server + "/compare?isl=1000")
    median = sorted(first)[1]
    print(f"\ncompare page, default workload, first visit (fresh browser cache): "
          f"{', '.join(f'{t * 1000:.0f}' for t in first)} ms; median {median * 1000:.0f} ms "
          f"(target {RENDER_TARGET_S * 1000:.0f} ms)")
    print(f"compare page, repeat visit: {repeat * 1000:.0f} ms; a workload computed on request (isl=1000): "
          f"{uncached * 1000:.0f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    shot = os.environ.get("SUANLI_SCREENSHOT")
    if shot:  # the default workload, as a visitor first sees it
        p.goto(server + "/compare", wait_until="domcontentloaded")
        _chart_rendered(p, "#frontier-chart")
        p.screenshot(path=shot, full_page=True)
    ctx.close()
    assert median <= RENDER_TARGET_S, f"compare page (default workload) rendered in {median:.2f} s (median)"


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_loads(server: str, page: Any, path: str) -> None:
    response = page.goto(server + path, wait_until="domcontentloaded")
    assert response is not None and response.status == 200
    page.wait_for_selector(PAGES[path])
    if path in CHART_PAGES:
        _chart_rendered(page, CHART_PAGES[path])
    assert page.locator("header.top nav a").count() >= 5
    assert page.js_errors == [], page.js_errors


def test_compare_form_submits_and_renders(server: str, page: Any) -> None:
    page.goto(server + "/compare", wait_until="domcontentloaded")
    page.select_option("select[name=model]", "Qwen/Qwen3-8B")
    page.fill("input[name=isl]", "1024")
    page.fill("input[name=osl]", "256")
    page.fill("input[name=ttft_ms]", "")
    page.fill("input[name=tpot_ms]", "40")
    for box in page.locator("fieldset.chips input[type=checkbox]").all():
        box.set_checked(box.get_attribute("value") in ("nvidia_h20_96gb", "huawei_ascend_910b", "nvidia_h200_sxm"))
    with page.expect_navigation():
        page.click("#compare-form button[type=submit]")
    assert "model=Qwen%2FQwen3-8B" in page.url and "tpot_ms=40" in page.url
    page.wait_for_selector("#ranking tbody tr")
    rows = page.locator("#ranking tbody tr")
    assert rows.count() == 3
    assert {rows.nth(i).get_attribute("data-hardware") for i in range(3)} == \
        {"nvidia_h20_96gb", "huawei_ascend_910b", "nvidia_h200_sxm"}
    assert "Qwen/Qwen3-8B" in page.inner_text("h2") and "TPOT ≤ 40 ms" in page.inner_text("h2")
    assert "TTFT" not in page.inner_text("h2")  # blank target = none
    assert "昇腾910B" in page.inner_text("#ranking")
    _chart_rendered(page, "#frontier-chart")
    assert page.locator("#frontier-chart .scatterlayer .trace").count() >= 3
    assert page.js_errors == []


def test_compare_form_shows_errors_inline(server: str, page: Any) -> None:
    page.goto(server + "/compare?hardware=no-such-chip", wait_until="domcontentloaded")
    assert "no-such-chip" in page.inner_text("#error")
    assert page.locator("#compare-form").count() == 1


@pytest.mark.parametrize("path", ["/compare", "/chips", "/accuracy", "/dealer", "/chips/910B", "/report",
                                  "/fairprice", "/profiles/lab", "/runs"])
def test_phone_viewport_does_not_scroll_sideways(server: str, browser: Any, path: str) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    p = ctx.new_page()
    try:
        p.goto(server + path, wait_until="load")
        p.wait_for_selector("main")
        overflow = p.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a phone screen"
    finally:
        ctx.close()


# --- the buyer report and the fair price (issue 12) ------------------------------------------

def _report_render(page: Any, url: str) -> float:
    start = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#ranked tbody tr")
    _chart_rendered(page, "#cost-chart")
    _chart_rendered(page, "#fair-chart")
    return time.perf_counter() - start


def test_report_page_render_time(server: str, browser: Any) -> None:
    """Navigation start to the ranked table and both charts drawn, default form, fresh browser
    context each time (the Plotly bundle fetched and compiled); median of three."""
    times = []
    for _ in range(3):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        p = ctx.new_page()
        p.goto("about:blank")
        times.append(_report_render(p, server + "/report"))
        ctx.close()
    median = sorted(times)[1]
    print(f"\n/report, default form, first visit: {', '.join(f'{t * 1000:.0f}' for t in times)} ms; median "
          f"{median * 1000:.0f} ms (target {REPORT_TARGET_S * 1000:.0f} ms); load average {os.getloadavg()[0]:.1f}")
    assert median <= REPORT_TARGET_S, f"/report rendered in {median:.2f} s (median)"


def test_report_at_the_seed_moment_and_form(server: str, page: Any) -> None:
    _report_render(page, server + "/report?as_of=2025-07-15")
    h200 = page.locator('#ranked tr[data-hardware="nvidia_h200_sxm"]')
    assert "grey only" in h200.inner_text()
    assert "2023-10-17" in h200.inner_text()                       # the deciding event, with its date
    assert "fair value" in page.inner_text("#verdict") and "x fair value" in page.inner_text("#verdict")
    assert page.locator("#alternatives tbody tr").count() >= 2
    assert page.locator('#alternatives tr[data-hardware="nvidia_h200_sxm"]').count() == 0   # not obtainable then
    assert "no public price" in page.inner_text("#ranked")          # K100 AI / MLU370-X8, with how to supply one
    assert "Not in the chart" in page.inner_text("#left-out")
    # the chart names chips by their human names, in English and Chinese
    ticks = page.locator("#cost-chart .ytick text").all_text_contents()
    assert any("H20 141GB" in t for t in ticks) and not any("nvidia_" in t for t in ticks)
    page.fill("input[name=as_of]", "2026-12-01")
    with page.expect_navigation():
        page.click("#report-form button[type=submit]")
    assert "as_of=2026-12-01" in page.url
    page.wait_for_selector("#ranked tbody tr")
    assert "restricted" in page.locator('#ranked tr[data-hardware="nvidia_h200_sxm"]').inner_text()
    assert page.js_errors == []


def test_fairprice_page(server: str, page: Any) -> None:
    page.goto(server + "/fairprice?as_of=2026-12-01", wait_until="domcontentloaded")
    _chart_rendered(page, "#fair-chart")
    assert "Fair value of" in page.inner_text("#fair-value")
    assert "H100" in page.inner_text("#not-considered")              # grey market only: not an alternative
    page.select_option("select[name=option]", "cn_hgx_h20_8gpu_2024")
    with page.expect_navigation():
        page.click("#report-form button[type=submit]")
    assert "option=cn_hgx_h20_8gpu_2024" in page.url
    page.wait_for_selector("#verdict")
    assert page.js_errors == []


def test_links_to_the_report(server: str, page: Any) -> None:
    page.goto(server + "/compare", wait_until="domcontentloaded")
    assert page.locator("#report-link").get_attribute("href").startswith("/report")
    page.goto(server + "/chips", wait_until="domcontentloaded")
    assert page.locator('main a[href="/report"]').count() >= 1
    page.goto(server + "/chips/H20-141G", wait_until="domcontentloaded")
    assert page.locator('a[href^="/fairprice?option="]').count() == 1
    assert "obtainable" in page.inner_text("#obtainable-today")
    assert page.locator("#availability li").count() >= 5


CJK_PROBE = r"""() => {
  const draw = (ch) => {
    const c = document.createElement('canvas'); c.width = 48; c.height = 48;
    const g = c.getContext('2d'); g.fillStyle = '#000';
    g.font = '32px ' + getComputedStyle(document.body).fontFamily; g.textBaseline = 'top';
    g.fillText(ch, 4, 4);
    return Array.from(g.getImageData(0, 0, 48, 48).data.filter((_, i) => i % 4 === 3));
  };
  const a = draw('算'), b = draw('力'), box = draw('\u{10FFFD}');
  const ink = (x) => x.reduce((s, v) => s + (v > 0), 0);
  const same = (x, y) => x.every((v, i) => v === y[i]);
  return {ink_a: ink(a), ink_b: ink(b), same_ab: same(a, b), same_a_box: same(a, box)};
}"""


def test_chinese_glyphs_render(server: str, page: Any) -> None:
    """With a CJK font installed (scripts/ci-browser.sh --fonts installs fonts-noto-cjk), two different
    Chinese characters draw as two different glyphs, not the same missing-glyph box."""
    page.goto(server + "/report", wait_until="domcontentloaded")
    probe = page.evaluate(CJK_PROBE)
    if os.environ.get("CI") is None and probe["same_ab"]:
        pytest.skip("no CJK font on this machine (bash scripts/ci-browser.sh --fonts)")
    assert probe["ink_a"] > 20 and probe["ink_b"] > 20, probe
    assert not probe["same_ab"] and not probe["same_a_box"], probe


def _boxes(page: Any, selector: str) -> list[dict[str, float]]:
    return [b for b in (e.bounding_box() for e in page.locator(selector).all()) if b]


def test_chart_labels_fit_and_do_not_overlap(server: str, page: Any) -> None:
    # Accuracy: the per-chip bar labels start inside the chart
    page.goto(server + "/accuracy", wait_until="domcontentloaded")
    _chart_rendered(page, "#chip-chart")
    chart = page.locator("#chip-chart").bounding_box()
    ticks = _boxes(page, "#chip-chart .ytick text")
    assert ticks and all(t["x"] >= chart["x"] - 1 for t in ticks), (chart, ticks[:3])
    # Dealer: the right axis title and tick labels end inside the chart
    page.goto(server + "/dealer", wait_until="domcontentloaded")
    _chart_rendered(page, "#dealer-chart")
    chart = page.locator("#dealer-chart").bounding_box()
    right = _boxes(page, "#dealer-chart .y2title, #dealer-chart .y2tick text")
    assert right and all(b["x"] + b["width"] <= chart["x"] + chart["width"] + 1 for b in right)
    assert page.locator("#dealer-chart .scatterlayer .trace").count() >= 2   # stock and units on lease
    # Market: the event numbers above the chart do not overlap each other
    page.goto(server + "/market?chip=H20", wait_until="domcontentloaded")
    _chart_rendered(page, "#index-chart")
    notes = _boxes(page, "#index-chart .annotation")
    for i, a in enumerate(notes):
        for b in notes[i + 1:]:
            overlap = (min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"]) > 0.5
                       and min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"]) > 0.5)
            assert not overlap, (a, b)


def test_page_defects_fixed(server: str, page: Any) -> None:
    page.goto(server + "/chips/H20", wait_until="domcontentloaded")
    zh = page.inner_text("#zh-name")
    assert "英伟达" in zh and ".txt" not in zh and "shared/seed/h20" not in zh
    page.goto(server + "/docs", wait_until="domcontentloaded")
    text = page.inner_text("main")
    assert "**" not in text and "``" not in text
    assert page.locator("#api-description strong").count() >= 1 and page.locator("main code").count() > 10


# --- calibration profiles and your runs ---------------------------------------------------------

def test_profile_page_draws_measured_vs_predicted(server: str, page: Any) -> None:
    page.goto(server + "/profiles/lab", wait_until="domcontentloaded")
    _chart_rendered(page, "#profile-scatter")
    traces = page.locator("#profile-scatter .scatterlayer .trace")
    assert traces.count() == 3  # before, after, the y = x line
    assert page.locator("#profile-scatter .scatterlayer .trace:nth-child(1) path.point").count() == 6
    assert page.locator("#profile-scatter .scatterlayer .trace:nth-child(2) path.point").count() == 6
    assert page.locator("#profile-scatter .xaxislayer-above .xtick").count() >= 2  # log axes with ticks
    legend = page.locator("#profile-scatter .legend").text_content() or ""
    assert "before calibration" in legend and "after calibration" in legend
    assert page.locator("#points tbody tr").count() == 6 and page.locator("#scopes tbody tr").count() >= 1
    assert page.get_attribute("#export-link", "href") == "/api/profiles/lab/export"
    assert page.js_errors == [], page.js_errors


def test_compare_profile_selector_reloads_with_the_profile(server: str, page: Any) -> None:
    page.goto(server + "/compare?model=Qwen%2FQwen3-8B&hardware=nvidia_h20_96gb&hardware=nvidia_l20&engine=sglang",
              wait_until="domcontentloaded")
    assert page.input_value("#profile-select") == "" and page.locator("#profile-note").count() == 0
    with page.expect_navigation():
        page.select_option("#profile-select", "lab")
    assert "profile=lab" in page.url and "engine=sglang" in page.url
    page.wait_for_selector("#profile-note")
    assert "lab" in page.inner_text("#profile-note") and page.input_value("#profile-select") == "lab"
    h20 = page.inner_text('#ranking tr[data-hardware="nvidia_h20_96gb"]')
    l20 = page.inner_text('#ranking tr[data-hardware="nvidia_l20"]')
    assert "calibrated on" in h20 and "profile lab" in h20
    assert "uncalibrated" in l20
    _chart_rendered(page, "#frontier-chart")
    with page.expect_navigation():  # back to none
        page.select_option("#profile-select", "")
    assert "profile=lab" not in page.url and page.locator("#profile-note").count() == 0  # a blank field: none
    assert page.js_errors == [], page.js_errors


def test_run_upload_form_sends_the_token_and_lists_the_run(server: str, page: Any) -> None:
    page.goto(server + "/runs", wait_until="domcontentloaded")
    page.set_input_files("#upload-form input[name=file]", str(RUN_FILE))
    page.fill("#upload-form input[name=model]", "meta-llama/Llama-3.1-70B")
    page.fill("#upload-form input[name=gpus]", "8")
    page.fill("#upload-form input[name=tp]", "8")
    page.fill("#upload-form input[name=token]", "wrong")
    page.fill("#upload-form input[name=hardware]", "nvidia_a100_sxm_80gb")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-result.error")
    assert "403" in page.inner_text("#upload-result")
    page.fill("#upload-form input[name=token]", TOKEN)
    with page.expect_navigation():  # imported: the page reloads with the run listed
        page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#runs tbody tr")
    row = page.inner_text("#runs tbody tr")
    assert "nvidia_a100_sxm_80gb" in row and "meta-llama/Llama-3.1-70B" in row
    assert page.input_value("#calibrate-form input[name=token]") == TOKEN  # kept for this tab
    assert [e for e in page.js_errors if "status of 403" not in e] == []  # the wrong token's answer, logged
