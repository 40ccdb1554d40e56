"""Property-based fuzzing of every ``suanli`` sub-command (hypothesis).

For each leaf command of the CLI, hypothesis draws argument values -- numbers at and past
every edge (0, negative, huge, ``nan``, ``inf``, ``1e999``), names that exist, almost exist
and do not, and small malformed files (empty, binary, nested 5,000 deep, with a byte-order
mark, wrong header, a directory, a missing path, the database itself as an output) -- and
checks what issue 11 asks of every run:

* exit code 0 or 2 (2: the last line on stderr is ``error: ...``), never a traceback;
* with ``--json`` and exit 0, stdout is one JSON document;
* the market database is still a SQLite database afterwards (no output ever lands on it).

Bounded for CI: ``SUANLI_FUZZ_EXAMPLES`` examples per command (default 12; the slow buyer
report gets a third), derandomized so that CI runs the same cases every time (set
``SUANLI_FUZZ_SEED`` to explore others), and a 30 s alarm per invocation.  The whole file
takes about a minute on the project's 2-core machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterator, get_args

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from suanli.cli.main import app

EXAMPLES = int(os.environ.get("SUANLI_FUZZ_EXAMPLES", "12"))
SEED = os.environ.get("SUANLI_FUZZ_SEED")
ALARM_S = 30
SQLITE_HEADER = b"SQLite format 3\x00"
runner = CliRunner()


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    import typer.main

    out: list[tuple[tuple[str, ...], Any]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        else:
            out.append((path, cmd))
    walk(typer.main.get_command(app), ())
    return out


COMMANDS = _commands()
GROUPS = {p[0] for p, _ in COMMANDS if len(p) > 1}


# --- the file pool ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("fuzz")
    db = d / "market.sqlite3"
    assert runner.invoke(app, ["db", "init", "--db", str(db)]).exit_code == 0
    cases = (Path(__file__).parent / "data" / "cases-public.csv").read_text(encoding="utf-8").splitlines()
    files = {
        "empty.csv": "", "empty.json": "", "garbage.csv": "\x01\x02,\n\"unclosed\n", "list.json": "[1, 2, 3]",
        "deep.json": "[" * 5000 + "]" * 5000, "deep.jsonl": "[" * 5000 + "]" * 5000 + "\n",
        "obj.json": '{"accelerators": [{"id": "x"}], "fx": [{}], "quotes": [{"price": "nan"}]}',
        "bom.csv": "\ufefftimestamp,isl,osl\n0,100,10\n1,200,20\n",
        "trace.jsonl": '{"timestamp": 0, "isl": 10, "osl": 5}\n{"timestamp": -1, "isl": 0, "osl": 1e999}\n',
        "quotes.csv": "date,item,kind,configuration,price,currency,unit,channel,region,source,confidence,notes\n"
                      "2025-03-03,H20,chip,x,100000,CNY,per_chip,dealer,CN,https://e.test,medium,\n",
        "quotes-bad.csv": "date,item,kind,configuration,price,currency,unit,channel,region,source,confidence,notes\n"
                          "2025-03-03,H20,chip,x,nan,CNY,per_chip,dealer,CN,s,medium,\n",
        "inventory.csv": "quantity,unit_cost,currency,financing_rate\n10,90000,CNY,0.06\n",
        "inventory-bad.csv": "quantity,unit_cost,currency,financing_rate\n-1,nan,ZZZ,7\n",
        "cases.csv": "\n".join(cases[:4]) + "\n", "cases-bad.csv": cases[0] + "\n" + ",".join(["x"] * 30) + "\n",
        "chips.csv": "id,memory_gb,mem_bw_gbs,bf16_tflops\nmy_chip,96,4000,148\n",
        "chips-bad.csv": "id,memory_gb,mem_bw_gbs,bf16_tflops\nbad,-1,nan,abc\n",
        "defaults.csv": "name,value\npue,nan\nlife_years,-3\n", "defaults-ok.csv": "name,value\npue,1.2\n", "fx.csv": "date,base,quote,rate,source\n2025-01-01,USD,CNY,7.1,test\n",
        "fx-bad.csv": "date,base,quote,rate\n2025-01-01,USD,CNY,0\n",
        "scenario.json": '{"name": "s", "drift_week": 1e999, "vol_week": -1}',
        "notdb.sqlite3": "these are my notes, not a database\n", "lengths.csv": "tokens\n100\n200\n",
    }
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (d / "model").mkdir()
    (d / "model" / "config.json").write_text('{"hidden_size": -1, "num_hidden_layers": "many"}')
    (d / "adir.csv").mkdir()
    inputs = sorted(str(d / n) for n in (*files, "binary.csv", "model", "adir.csv", "missing.csv"))
    outputs = [str(d / n) for n in ("out.csv", "out.json", "out.json.gz", "out.png", "out.html", "out.parquet",
                                    "out.txt", "no/dir/out.png", "adir.csv")] + [str(db), f"{db}-wal"]
    return {"dir": d, "db": str(db), "inputs": inputs, "outputs": outputs}


# --- value strategies -------------------------------------------------------------------------
# name -> (values that make sense, values that do not); unnamed numbers use the generic lists.

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
FLOAT_OK, FLOAT_BAD = ["1", "2", "8", "0.5", "100", "0.05"], ["0", "-1", "-0", "1e-300", "1e300", "1e999", "nan",
                                                              "inf", "-inf", "abc", "", "7e9"]
INT_OK, INT_BAD = ["1", "2", "4", "8"], ["0", "-1", "5000", "99999999999", "abc", "", "1.5"]
V: dict[str, tuple[list[str], list[str]]] = {
    "model": (["Qwen/Qwen3-8B", "qwen3-8b", "openai/gpt-oss-20b", "deepseek-ai/DeepSeek-R1"], ["nope", "", "..",
                                                                                               "{model}"]),
    "name": (["Qwen/Qwen3-8B", "Qwen/Qwen3-30B-A3B"], ["nope", "{model}", ""]),
    "hardware": (["H20", "h-20", "L20", "910B", "H20,L20", "RTX Pro 6000"], ["nope", "", ",", "B30A", "H20,nope"]),
    "chip": (["H20", "B200", "910B", "h-20"], ["NOPE", "", "H2O"]),
    "option": (["H20", "cn_h20_141gb_server_leiphone"], ["nope", ""]),
    "vs": (["cn_h200_8gpu_machine_2026", "H200"], ["nope", "", "L20"]),
    "server": (["cn_h20_141gb_server_leiphone", "H20"], ["cn_h20_141gb_server_leiphon", "", "nope"]),
    "system": (["cn_h20_141gb_server_leiphone"], ["nope", ""]),
    "system_id": (["cn_h20_141gb_server_leiphone"], ["nope", ""]),
    "weight_dtype": (["bf16", "fp8", "int4", "bf16,fp8"], ["foo", "", "fp4,foo"]),
    "kv_dtype": (["bf16", "fp8"], ["int4", "", "x"]), "dtype": (["bf16", "fp8"], ["foo"]),
    "engine": (["vllm", "sglang", "trtllm", "mindie"], ["tgi", ""]), "mode": (["calibrated", "roofline"], ["guess"]),
    "scenario": (["offline", "server", "fixed-concurrency", "single-request", "prefill-only", "decode-only"],
                 ["bogus", "bull", ""]),
    "arrival": (["poisson", "bursty"], ["uniform"]),
    "isl_dist": (["fixed", "uniform:1:100", "lognormal:0.5", "file:{input}"], ["uniform:100:1", "lognormal:-1",
                                                                              "zipf", "file:{missing}"]),
    "osl_dist": (["fixed", "lognormal", "uniform:1:9"], ["uniform:0:0", "file:{missing}"]),
    "workload": (["chat", "reasoning", "batch"], ["nope", ""]), "currency": (["CNY", "USD"], ["ZZZ", "", "usd"]),
    "kind": (["quotes", "events", "inventories", "chip", "server"], ["all", "systems", "gossip", ""]),
    "channel": (["dealer", "grey", "oem"], ["smuggler", ""]), "measure": (["purchase", "rent"], ["resale"]),
    "since": (["2025", "2025-01"], ["2025-13-01", "tomorrow", ""]), "until": (["2026-12-31", "2024"], ["x"]),
    "today": (["2026-06-30"], ["tomorrow", "2025-02-30"]), "as_of": (["2025-07", "2025-07-01"], ["yesterday"]),
    "fmt": (["csv", "json"], ["xml"]), "method": (["full", "lora", "qlora"], ["nope"]),
    "server_price": (["1280000 CNY 2025-07", "1.5M CNY 2026-01"], ["-5 CNY 2025-01", "nan USD 2025-01", "cheap"]),
    "option_price": (["900000 CNY 2025-07"], ["abc"]), "vs_price": (["1500000 CNY 2025-07"], ["1 ZZZ 2025-01"]),
    "mix": (["chat:0.7,reasoning:0.3", "2048x256:1"], ["chat:-1", "chat:nan", ":", ""]),
    "grid_utilisation": (["0.3,0.5"], ["nan", "2", ""]), "grid_electricity": (["0.5,1"], ["-1", "x"]),
    "tokens": (["1e9", "2e10"], ["nan", "-1", "abc", "1e999"]), "params": (["8e9", "7B", "350M"], ["nan", "0", "x"]),
    "fx": (["USD=7.1"], ["HKD=0", "nan", "USD=nan", "ZZZ=1e999"]),
    "file": (["{dir}/quotes.csv", "{dir}/inventory.csv"], ["{dir}/quotes-bad.csv", "{dir}/deep.json",
                                                            "{dir}/binary.csv", "{dir}/adir.csv"]), "owner": (["web-test"], ["", "a'; --"]),
    "item": (["H20", "h20 server"], ["%_", ""]), "region": (["CN", "US"], [""]),
    "host": (["127.0.0.1", "0.0.0.0"], ["", "::1"]), "log_level": (["info"], ["loud"]), "root_path": (["/x"], [""]),
    "forwarded_allow_ips": (["127.0.0.1"], ["*", ""]), "address": (["auto"], ["auto"]),
    "scenario_file": (["{dir}/scenario.json"], ["{dir}/deep.json", "{dir}/missing.csv"]),
    # numbers whose big-but-valid values would only make a run slow (searches are bounded elsewhere)
    "gpus": (["1", "2", "8"], ["0", "-1", "5000", "abc"]), "max_gpus": (["1", "4", "8"], ["0", "-3", "5000"]),
    "tp": (["1", "2", "4"], ["0", "3", "5000"]), "pp": (["1", "2"], ["0", "100"]), "ep": (["1", "2"], ["0", "3"]),
    "dp_attention": (["1", "2"], ["0"]), "requests": (["10", "200"], ["0", "-5", "99999999999", "abc"]),
    "weeks": (["4", "52"], ["0", "-1", "abc"]), "paths": (["5", "20"], ["0", "-1", "abc"]),
    "units": (["10", "1000"], ["0", "-1", "abc"]), "lease_max_units": (["5"], ["0", "-1"]),
    "weekly_sell_capacity": (["4", "40"], ["0", "-2", "abc"]), "limit": (["5", "100"], ["0", "-1", "abc"]),
    "workers": (["1", "2"], ["0", "100"]), "port": (["8000"], ["0", "70000", "abc"]),
    "seq_len": (["512", "4096"], ["0", "-1", "99999999999"]), "global_batch": (["8", "256"], ["0", "-4"]),
    "micro_batch": (["1", "4"], ["0", "3"]), "term_months": (["12", "36", "240"], ["0", "-1", "100000000"]),
    "lora_rank": (["8"], ["0", "-1"]), "zero": (["0", "1", "3"], ["4", "-1"]), "vpp": (["1", "2"], ["0"]),
    "request_rate": (["0.1", "1", "10"], ["0", "-1", "nan", "inf", "1e300", "abc"]),
    "duration": (["1", "10"], ["0", "-1", "1e300", "nan"]), "concurrency": (["1", "4", "64"], ["0", "-1", "1e9", "0.5"]),
    "isl": (["128", "1024", "4096"], FLOAT_BAD), "osl": (["16", "256"], FLOAT_BAD),
    "burst_cv": (["0.5", "2", "10"], ["1e-300", "0", "1e9", "nan"]), "prefix_hit_rate": (["0", "0.5"], ["1", "-1"]),
    "price": (["100000", "130000"], FLOAT_BAD), "unit_cost": (["90000", "120000"], FLOAT_BAD),
    "financing_rate": (["0.06", "0"], ["-1", "2", "nan"]), "seed": (["0", "7"], ["-1", "abc"]),
}


def _mostly(ok: st.SearchStrategy[str], bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """4 draws in 5 from ``ok`` (so that runs get past the first check), else from ``bad``."""
    return st.sampled_from([True, True, True, True, False]).flatmap(lambda good: ok if good else bad)


OUTPUTS = {("sweep", "out"): (".csv", ".parquet"), ("market", "export", "out"): (".csv", ".json"),
           ("db", "backup", "path"): (".json", ".json.gz"), ("db", "restore", "path"): (".json",)}
SINGLE_CHIP = {("predict",), ("simulate",), ("train",), ("hardware", "show")}


def _values(command: tuple[str, ...], name: str, annotation: Any, pool: dict[str, Any]) -> st.SearchStrategy[str]:
    """A sensible value most of the time, else an edge case or random text."""
    d, inputs, outputs = pool["dir"], pool["inputs"], pool["outputs"]
    if name in ("out", "plot", "path"):
        ok = [str(d / f"out{x}") for x in OUTPUTS.get((*command, name), (".csv", ".json", ".png", ".html"))]
        return _mostly(st.sampled_from(ok), st.sampled_from(outputs + inputs))
    if name == "hardware" and command in SINGLE_CHIP:
        return _mostly(st.sampled_from(["H20", "h-20", "L20", "910B", "H200"]), st.sampled_from(["nope", "", "H20,L20"]))
    if name == "db":
        good = [pool["db"], f"sqlite:///{pool['db']}"]
        return _mostly(st.sampled_from(good), st.sampled_from([
            str(d / "notdb.sqlite3"), "mysql://u@h/x", "postgresql://nobody@127.0.0.1:1/none", str(d)]))
    is_path = annotation is Path or Path in get_args(annotation)
    if name in V and not (is_path and name == "fx"):
        sub = {"{model}": str(d / "model"), "{input}": str(d / "lengths.csv"), "{missing}": str(d / "missing.csv"),
               "{dir}": str(d)}

        def fill(values: list[str]) -> list[str]:
            out = []
            for v in values:
                for k, x in sub.items():
                    v = v.replace(k, x)
                out.append(v)
            return out
        ok, bad = fill(V[name][0]), fill(V[name][1])
        return _mostly(st.sampled_from(ok), st.one_of(st.sampled_from(bad), TEXT))
    if annotation is float:
        return _mostly(st.sampled_from(FLOAT_OK), st.one_of(
            st.sampled_from(FLOAT_BAD), st.floats(allow_nan=True, allow_infinity=True).map(repr)))
    if annotation is int:
        return _mostly(st.sampled_from(INT_OK), st.one_of(st.sampled_from(INT_BAD),
                                                          st.integers(-10**6, 10**6).map(str)))
    if is_path or "file" in name or name in ("cases", "trace", "inventory", "defaults"):
        ok = [str(d / n) for n in {"cases": ["cases.csv"], "trace": ["bom.csv", "trace.jsonl"],
                                   "inventory": ["inventory.csv"], "defaults": ["defaults-ok.csv"],
                                   "fx": ["fx.csv"], "file": ["quotes.csv", "inventory.csv"]}.get(name, ["chips.csv"])]
        return _mostly(st.sampled_from(ok), st.sampled_from(inputs))
    return _mostly(st.sampled_from(["x", "1"]), st.one_of(st.sampled_from(["", "nope"]), TEXT))


# options a command needs in practice (else nearly every run stops at "give --...")
USUALLY: dict[tuple[str, ...], tuple[str, ...]] = {
    ("simulate",): ("request_rate", "requests"), ("dealer", "plan"): ("price", "units", "unit_cost", "financing_rate"),
    ("train",): ("params",), ("lease",): ("lease_cny_server_month",), ("market", "import"): ("today",),
}


def _param_strategies(path: tuple[str, ...], cmd: Any, pool: dict[str, Any]) -> st.SearchStrategy[list[str]]:
    """One argument list: required parameters always, each optional one about 1 time in 5."""
    parts: list[st.SearchStrategy[list[str]]] = []
    sometimes = st.sampled_from([False, False, False, False, True])
    usually = st.sampled_from([True, True, True, True, False])
    wanted = USUALLY.get(path, ())
    for p in cmd.params:
        if p.name in ("help",) or not getattr(p, "opts", None):
            continue
        annotation = getattr(getattr(p, "type_descriptor", None), "annotation", None)
        opt = p.opts[0]
        positional = not opt.startswith("-")
        if getattr(p, "is_flag", False) or annotation is bool:
            flags = [o for o in (*p.opts, *getattr(p, "secondary_opts", ())) if o.startswith("-")]
            parts.append(st.sampled_from([[], [], *[[f] for f in flags]]))
            continue
        if p.name == "backend":        # processes and Ray only add start-up time
            parts.append(st.just(["--backend", "serial"]))
            continue
        values = _values(path, p.name, annotation, pool)
        if positional:
            parts.append(values.map(lambda v: [v]))
        elif getattr(p, "multiple", False):
            parts.append(st.lists(values, max_size=2).map(lambda vs, o=opt: [x for v in vs for x in (o, v)]))
        elif p.required:
            parts.append(values.map(lambda v, o=opt: [o, v]))
        else:
            parts.append(st.tuples(usually if p.name in wanted else sometimes, values)
                         .map(lambda t, o=opt: [o, t[1]] if t[0] else []))
    return st.tuples(*parts).map(lambda ps: [a for part in ps for a in part]) if parts else st.just([])


# --- the property ---------------------------------------------------------------------------

@contextlib.contextmanager
def _alarm(args: list[str]) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def slow(*_: Any) -> None:
        raise TimeoutError(f"suanli {' '.join(args)} ran over {ALARM_S} s")
    old = signal.signal(signal.SIGALRM, slow)
    signal.alarm(ALARM_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


STATS: dict[str, Counter[int]] = defaultdict(Counter)   # command -> exit code -> runs


@pytest.fixture(scope="module", autouse=True)
def _report_stats() -> Iterator[None]:
    """``SUANLI_FUZZ_STATS=1``: print how many runs of each command got past the input checks
    (exit 0), to see that the fuzzer reaches the code behind them."""
    yield
    if os.environ.get("SUANLI_FUZZ_STATS"):
        for name, codes in sorted(STATS.items()):
            print(f"{name:16} {dict(sorted(codes.items()))}")


def check_run(args: list[str], pool: dict[str, Any]) -> None:
    with _alarm(args):
        r = runner.invoke(app, args)
    STATS[" ".join(args[:2]) if args[0] in GROUPS else args[0]][r.exit_code] += 1
    shown = f"suanli {' '.join(repr(a) if not a or ' ' in a else a for a in args)}"
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback
        tb = "".join(traceback.format_exception(r.exception))
        raise AssertionError(f"{shown}: unhandled {type(r.exception).__name__}\n{tb}")
    assert r.exit_code in (0, 2), f"{shown}: exit {r.exit_code}\n{r.stderr[-2000:]}"
    assert "Traceback" not in r.stdout and "Traceback" not in r.stderr, shown
    if r.exit_code == 2:
        lines = r.stderr.strip().splitlines()
        assert lines and lines[-1].startswith("error: "), f"{shown}: {r.stderr[-500:]}"
    elif "--json" in args and "--help" not in args:
        try:
            json.loads(r.stdout)
        except ValueError:
            raise AssertionError(f"{shown}: --json printed something that is not one JSON document:\n"
                                 f"{r.stdout[:500]}") from None
    with open(pool["db"], "rb") as f:
        assert f.read(len(SQLITE_HEADER)) == SQLITE_HEADER, f"{shown} overwrote the database"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pool: dict[str, Any]) -> None:
    for var in ("SUANLI_HARDWARE_PATH", "SUANLI_SYSTEMS_PATH", "SUANLI_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SUANLI_DATABASE_URL", pool["db"])
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(pool["dir"])
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)   # `serve` checks its input, then would listen


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_survives_any_input(path: tuple[str, ...], cmd: Any, pool: dict[str, Any]) -> None:
    n = max(2, EXAMPLES // 3) if path == ("report",) else EXAMPLES

    # no shrinking: a failure is reported with its full command line at once, and a broken
    # build does not spend minutes minimising it in CI
    @settings(max_examples=n, deadline=None, derandomize=SEED is None, database=None,
              phases=(Phase.explicit, Phase.reuse, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(args=_param_strategies(path, cmd, pool))
    def run(args: list[str]) -> None:
        check_run([*path, *args], pool)

    if SEED is not None:
        run = seed(int(SEED))(run)
    run()


def test_the_fuzzer_reaches_every_command() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"predict", "compare", "simulate", "lease", "dealer plan", "market import", "db backup", "db restore",
            "serve", "report", "validate", "train"} <= names
