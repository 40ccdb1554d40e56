"""Benchmark runs users already have: read result files into the database, list, show,
delete and select them.

:func:`import_runs` (paths) and :func:`import_run_bytes` (an upload: bytes and a file
name) read every file in a known format (:mod:`suanli.market.bench_formats`), resolve the
chip and the model against the catalogs, merge what the flags say (:class:`RunFlags`) with
what the file says, and store all runs of all files in one transaction: one bad file, one
bad record or one unknown chip stores nothing.  Re-importing a file adds nothing (its runs
are reported as duplicates: same SHA-256, same position in the file).

Flags and the file (the rule)
-----------------------------
* A flag fills what the file does not say.
* Where both say something they must agree, else the import stops with a conflict naming
  both values.  Chips and models agree when they resolve to the same catalog id (``H20``
  and ``nvidia_h20_96gb``).
* Exception: a chip or model name in the file that is **not in the catalog** (``mock``,
  ``meta-llama/Llama-3.3-70B-Instruct`` mapped by the user to ``meta-llama/Llama-3.1-70B``)
  is replaced by the flag; the file's name is kept in the run's extras (``file_hardware``,
  ``file_model``).  Without a flag such a name is an error that says which flag to give.
* ``--label`` always wins (it is the user's tag); a file's own label goes to the extras.
* Hardware, model and the number of accelerators are required (the message names the
  missing flags); throughputs are stored per accelerator (the file's totals / ``gpus``).
* A run is identified by its file's bytes and its position in the file: importing the same
  file again, even with other flags, reports duplicates; delete the runs to re-import them.

:func:`select_runs` turns a selector (``all``, ``3,5-9``, ``label:NAME``, ``hardware:ID``,
``engine:NAME``, ``model:ID``, ``format:NAME``, joined with ``+`` for AND) into runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from suanli.app.limits import MAX_CONCURRENCY, MAX_GPUS, MAX_RATE, MAX_TOKENS
from suanli.errors import InvalidInput, SuanliError
from suanli.market.bench_formats import (
    ENGINES,
    FORMATS,
    KV_DTYPES,
    SCENARIOS,
    THROUGHPUTS,
    WEIGHT_DTYPES,
    FileProblem,
    ParsedRun,
    parse,
)
from suanli.market.db import Database, open_db
from suanli.market.errors import DatabaseError, ImportRejected, RowProblem, ValueRefused
from suanli.market.runs import Run, UnknownRun, delete_runs as _delete, insert_runs, query_runs

DbArg = Database | str | None
MAX_FILE_BYTES = 256 * 1024 * 1024
WRITE_ATTEMPTS = 3
FORMAT_CHOICES = ("auto", *FORMATS)

__all__ = ["FORMAT_CHOICES", "FileImport", "Run", "RunFlags", "RunImportResult", "UnknownRun", "build_runs",
           "delete_runs", "get_run", "import_run_bytes", "import_runs", "list_runs", "select_runs"]


@dataclass(frozen=True, kw_only=True)
class RunFlags:
    """What the user says about the runs of the files (None: not said).  See the module doc
    for how these merge with what a file says."""

    hardware: str | None = None
    model: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    gpus: int | None = None
    tp: int | None = None
    pp: int | None = None
    ep: int | None = None
    dp_attention: int | None = None
    weight_dtype: str | None = None
    kv_dtype: str | None = None
    label: str | None = None
    scenario: str | None = None
    isl: float | None = None
    osl: float | None = None
    concurrency: int | None = None
    request_rate: float | None = None
    num_requests: int | None = None

    def check(self) -> None:
        """InvalidInput for a value outside the vocabularies or ranges."""
        for name, allowed in (("engine", ENGINES), ("weight_dtype", WEIGHT_DTYPES), ("kv_dtype", KV_DTYPES),
                              ("scenario", SCENARIOS)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise InvalidInput(f"--{name.replace('_', '-')} {value!r}: use one of {', '.join(allowed)}",
                                   field=name)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                limit = FLAG_LIMITS.get(f.name, 1e9)
                if not 0 < value <= limit:
                    raise InvalidInput(f"--{f.name.replace('_', '-')} must be a number in (0, {limit:,g}], got {value}",
                                       field=f.name)
        layout = max(self.tp or 1, self.ep or 1) * (self.pp or 1)
        if self.gpus is not None and self.gpus % layout:
            raise InvalidInput(f"--gpus {self.gpus} is not a multiple of tp x pp = {layout}: one replica would not "
                               f"fit the GPUs given", field="gpus")


# bounds of the flags a file may lack (as the prediction commands': app.limits)
FLAG_LIMITS = {"gpus": MAX_GPUS, "tp": MAX_GPUS, "pp": MAX_GPUS, "ep": MAX_GPUS, "dp_attention": MAX_GPUS,
               "isl": MAX_TOKENS, "osl": MAX_TOKENS, "concurrency": MAX_CONCURRENCY, "request_rate": MAX_RATE,
               "num_requests": 10**9}


@dataclass(frozen=True, kw_only=True)
class FileImport:
    """One file of an import: its format, how many runs it holds and how many were new."""

    file: str
    format: str
    sha256: str
    runs: int
    added: int
    run_ids: tuple[int, ...] = ()
    duplicate_of: tuple[int, ...] = ()    # ids of the stored runs this file's duplicates are
    engines: tuple[str, ...] = ()         # serving engines of its runs ("" = not stated)

    @property
    def duplicates(self) -> int:
        return self.runs - self.added

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "sha256": self.sha256, "runs": self.runs,
                "added": self.added, "duplicates": self.duplicates, "run_ids": list(self.run_ids),
                "duplicate_of": list(self.duplicate_of)}


@dataclass(frozen=True, kw_only=True)
class RunImportResult:
    files: tuple[FileImport, ...]
    dry_run: bool = False

    @property
    def runs(self) -> int:
        return sum(f.runs for f in self.files)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def duplicates(self) -> int:
        return self.runs - self.added

    @property
    def run_ids(self) -> tuple[int, ...]:
        return tuple(i for f in self.files for i in f.run_ids)

    def to_dict(self) -> dict[str, Any]:
        return {"files": [f.to_dict() for f in self.files], "runs": self.runs, "added": self.added,
                "duplicates": self.duplicates, "dry_run": self.dry_run}


@contextmanager
def _session(db: DbArg) -> Iterator[Database]:
    if isinstance(db, Database):
        yield db
        return
    opened = open_db(db)
    try:
        yield opened
    finally:
        opened.dispose()


# --- catalogs ---------------------------------------------------------------------------------

class _Resolver:
    """Chip and model names to catalog ids, each name looked up once per import."""

    def __init__(self) -> None:
        self._hw: dict[str, tuple[str | None, str]] = {}
        self._model: dict[str, tuple[str | None, str]] = {}
        self._catalog: Any = None

    def hardware(self, name: str) -> tuple[str | None, str]:
        """(catalog id or None, the catalog's reason when None)."""
        if name not in self._hw:
            from suanli.specs.accelerator import load_hardware

            if self._catalog is None:
                self._catalog = load_hardware()
            try:
                self._hw[name] = (self._catalog.get(name).id, "")
            except SuanliError as exc:
                self._hw[name] = (None, str(exc))
        return self._hw[name]

    def model(self, name: str) -> tuple[str | None, str]:
        if name not in self._model:
            from suanli.specs.model import load_model

            try:
                self._model[name] = (load_model(name).id, "")
            except SuanliError as exc:
                self._model[name] = (None, str(exc).split(":")[0])
        return self._model[name]


_LIST = {"hardware": "suanli hardware list", "model": "suanli models list"}


def _catalog_value(kind: str, file_value: Any, flag: str | None, resolve: Callable[[str], tuple[str | None, str]],
                   extras: dict[str, Any]) -> str | None:
    """The catalog id for ``kind`` (hardware/model) from the file's and the flag's names
    (module doc); ValueError with the reason otherwise."""
    what = "chip" if kind == "hardware" else "model"
    if flag is not None:
        flag_id, why = resolve(flag)
        if flag_id is None:
            raise ValueError(f"unknown {what} {flag!r} given by --{kind} ({why}; see `{_LIST[kind]}`)")
        if file_value:
            file_id, _ = resolve(str(file_value))
            if file_id is not None and file_id != flag_id:
                raise ValueError(f"--{kind} {flag} ({flag_id}) contradicts the file's {what} {file_value} ({file_id})")
            if file_id is None:
                extras[f"file_{kind}"] = file_value
        return flag_id
    if not file_value:
        return None
    file_id, why = resolve(str(file_value))
    if file_id is None:
        raise ValueError(f"unknown {what} {file_value!r} in the file ({why}); give --{kind} with an id of "
                         f"`{_LIST[kind]}`")
    return file_id


def _merge(name: str, file_value: Any, flag: Any) -> Any:
    if flag is None:
        return file_value
    if file_value is None or file_value == flag:
        return flag
    if isinstance(flag, float) and isinstance(file_value, (int, float)) and abs(flag - file_value) <= 1e-9 * abs(flag):
        return flag
    raise ValueError(f"--{name.replace('_', '-')} {flag} contradicts the file's {name} {file_value}")


def _to_run(parsed: ParsedRun, *, fmt: str, file_name: str, sha256: str, command: str, flags: RunFlags,
            resolver: _Resolver) -> Run:
    """A :class:`Run` from what one file record says and the flags; ValueError naming what
    is missing, unknown or contradictory."""
    hints = parsed.hints
    extras = dict(parsed.extras)
    hardware = _catalog_value("hardware", hints.get("hardware"), flags.hardware, resolver.hardware, extras)
    model = _catalog_value("model", hints.get("model"), flags.model, resolver.model, extras)
    values: dict[str, Any] = {}
    for name in ("engine", "engine_version", "gpus", "tp", "pp", "ep", "dp_attention", "weight_dtype", "kv_dtype"):
        values[name] = _merge(name, hints.get(name), getattr(flags, name))
    for name in ("scenario", "isl", "osl", "concurrency", "request_rate", "num_requests"):
        values[name] = _merge(name, getattr(parsed, name) or None, getattr(flags, name))
    label = flags.label if flags.label is not None else hints.get("label", "")
    if flags.label is not None and hints.get("label") and hints["label"] != flags.label:
        extras["file_label"] = hints["label"]
    missing = [f"--{n}" for n, v in (("hardware", hardware), ("model", model), ("gpus", values["gpus"])) if not v]
    if missing:
        raise ValueError(f"the file does not say {' or '.join(m[2:] for m in missing)}; give {', '.join(missing)}")
    gpus = int(values["gpus"])
    for name, limit in FLAG_LIMITS.items():     # what a file states is bounded like a flag
        value = gpus if name == "gpus" else values.get(name)
        if isinstance(value, (int, float)) and not 0 < value <= limit:
            raise ValueError(f"{name} {value:g} is outside (0, {limit:,g}]")
    layout = max(values["tp"] or 1, values["ep"] or 1) * (values["pp"] or 1)
    if gpus % layout:
        raise ValueError(f"gpus {gpus} is not a multiple of tp x pp = {layout}; give the right --gpus/--tp/--pp")
    metrics = dict(parsed.metrics)
    for metric, total in parsed.totals.items():
        if metric in THROUGHPUTS:
            metrics[metric] = total / gpus
    if not metrics:
        raise ValueError("no throughput or latency in the record")
    if parsed.totals:
        extras["per_accelerator_from"] = f"file totals / {gpus} accelerators"
    assert hardware is not None and model is not None
    return Run(id=None, format=fmt, file_name=file_name, file_sha256=sha256, record_index=parsed.record_index,
               command=command or parsed.command, hardware=hardware, model=model,
               engine=values["engine"] or "", engine_version=str(values["engine_version"] or ""), gpus=gpus,
               tp=values["tp"], pp=values["pp"], ep=values["ep"], dp_attention=values["dp_attention"],
               weight_dtype=values["weight_dtype"] or "", kv_dtype=values["kv_dtype"] or "",
               scenario=values["scenario"] or "", isl=values["isl"], osl=values["osl"],
               concurrency=values["concurrency"], request_rate=values["request_rate"],
               num_requests=values["num_requests"], label=str(label or ""), metrics=metrics, extras=extras)


def build_runs(data: bytes, file_name: str, *, flags: RunFlags | None = None, fmt: str = "auto",
               command: str | None = None, resolver: _Resolver | None = None) -> tuple[str, str, list[Run]]:
    """(format, SHA-256, runs) of one file's bytes, nothing stored.  Raises
    :class:`UnknownFormat` (names the formats tried) or :class:`ImportRejected` (every bad
    record with its line or record number)."""
    flags = flags or RunFlags()
    resolver = resolver or _Resolver()
    sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"{file_name}: larger than {MAX_FILE_BYTES // 2**20} MiB", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected(file_name, [RowProblem(line, "not UTF-8 text")]) from None
    try:
        fmt, parsed = parse(text, file_name, fmt)
    except FileProblem as exc:
        problems = getattr(exc, "all", None) or [(exc.line, exc.reason)]
        raise ImportRejected(file_name, [RowProblem(line, reason) for line, reason in problems[:100]],
                             total=len(problems)) from None
    runs: list[Run] = []
    problems_: list[RowProblem] = []
    for p in parsed:
        try:
            runs.append(_to_run(p, fmt=fmt, file_name=file_name, sha256=sha256, command=command or "",
                                flags=flags, resolver=resolver))
        except ValueError as exc:
            where = RowProblem(p.line, str(exc)) if p.line else RowProblem(p.record_index + 1, str(exc), "run")
            problems_.append(where)
    if problems_:
        raise ImportRejected(file_name, problems_[:100], total=len(problems_))
    return fmt, sha256, runs


def _commands_beside(path: Path) -> str | None:
    """The client command line recorded in a ``.commands`` file next to ``path`` (the vLLM
    nightly harness writes ``NAME.commands`` beside ``NAME.json``): ``a.b.json`` looks for
    ``a.b.commands``, then ``a.commands``."""
    name = path.name
    while "." in name:
        name = name.rsplit(".", 1)[0]
        candidate = path.with_name(name + ".commands")
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                return " ".join(text.split()) or None
            if isinstance(doc, dict):
                cmd = doc.get("client_command") or doc.get("command")
                return " ".join(str(cmd).split()) if cmd else None
            return None
    return None


def _store(db: Database, files: list[tuple[str, str, str, list[Run]]], dry_run: bool) -> list[FileImport]:
    """One transaction storing the runs of every file (rolled back for a dry run)."""
    from sqlalchemy import select

    from suanli.market import schema

    class _DryRun(Exception):
        pass

    out: list[FileImport] = []
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        out = []
        try:
            with db.write() as conn:
                seen: set[tuple[str, int]] = set()
                for name, fmt, sha, runs in files:
                    fresh = [r for r in runs if (sha, r.record_index) not in seen]
                    seen.update((sha, r.record_index) for r in runs)
                    ids = [i for i in insert_runs(conn, fresh, now) if i is not None]
                    stored: tuple[int, ...] = ()
                    if len(ids) < len(runs):      # say which stored runs the duplicates are
                        t = schema.runs
                        stored = tuple(int(r[0]) for r in conn.execute(
                            select(t.c.id).where(t.c.file_sha256 == sha).order_by(t.c.id)) if int(r[0]) not in ids)
                    out.append(FileImport(file=name, format=fmt, sha256=sha, runs=len(runs), added=len(ids),
                                          run_ids=tuple(ids), duplicate_of=stored,
                                          engines=tuple(sorted({r.engine for r in runs}))))
                    if not dry_run:
                        conn.execute(schema.imports.insert().values(
                            kind="runs", file_name=name[: schema.SOURCE_LEN], sha256=sha, rows_read=len(runs),
                            rows_added=len(ids), imported_at=now))
                if dry_run:
                    raise _DryRun
            return out
        except _DryRun:
            return [replace(f, run_ids=()) for f in out]
        except ValueRefused as exc:
            raise ImportRejected(", ".join(f[0] for f in files),
                                 [RowProblem(0, str(exc).replace("the database refused a value",
                                                                 "the database refused the runs", 1))]) from None
        except DatabaseError as exc:
            if not exc.retryable or attempt == WRITE_ATTEMPTS:
                raise
    return out


def import_run_bytes(data: bytes, file_name: str, db: DbArg = None, *, flags: RunFlags | None = None,
                     fmt: str = "auto", command: str | None = None, dry_run: bool = False) -> RunImportResult:
    """Import one uploaded file (its bytes and name), all or nothing.  ``command``: the
    command line that produced it, when the caller knows it."""
    flags = flags or RunFlags()
    flags.check()
    parsed = build_runs(data, Path(file_name).name or "upload", flags=flags, fmt=fmt, command=command)
    with _session(db) as d:
        stored = _store(d, [(Path(file_name).name or "upload", *parsed)], dry_run)
    return RunImportResult(files=tuple(stored), dry_run=dry_run)


def import_runs(paths: Sequence[str | Path], db: DbArg = None, *, flags: RunFlags | None = None,
                fmt: str = "auto", dry_run: bool = False) -> RunImportResult:
    """Import benchmark result files, all or nothing (see the module doc).  The command line
    is taken from a ``.commands`` file next to a file when there is one."""
    if not paths:
        raise InvalidInput("no files to import", field="file")
    flags = flags or RunFlags()
    flags.check()
    resolver = _Resolver()
    files: list[tuple[str, str, str, list[Run]]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise InvalidInput(f"{path.name}: larger than {MAX_FILE_BYTES // 2**20} MiB", field="file")
            data = path.read_bytes()
        except FileNotFoundError:
            raise InvalidInput(f"no such file: {path}", field="file") from None
        except IsADirectoryError:
            raise InvalidInput(f"{path} is a directory; give the result files", field="file") from None
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="file") from None
        fmt_found, sha, runs = build_runs(data, path.name, flags=flags, fmt=fmt, command=_commands_beside(path),
                                          resolver=resolver)
        files.append((path.name, fmt_found, sha, runs))
    with _session(db) as d:
        stored = _store(d, files, dry_run)
    return RunImportResult(files=tuple(stored), dry_run=dry_run)


# --- list / show / delete / select ------------------------------------------------------------

def _hardware_id(name: str) -> str:
    from suanli.specs.accelerator import load_hardware

    return str(load_hardware().get(name).id)


def _model_id(name: str) -> str:
    from suanli.specs.model import load_model

    try:
        return str(load_model(name).id)
    except SuanliError:
        return name  # a stored model id the catalog no longer has still selects its runs


def list_runs(db: DbArg = None, *, hardware: str | None = None, model: str | None = None,
              engine: str | None = None, label: str | None = None) -> list[Run]:
    """Stored runs, oldest first; ``hardware`` may be an alias (``H20``)."""
    with _session(db) as d:
        return query_runs(d, hardware=_hardware_id(hardware) if hardware else None,
                          model=_model_id(model) if model else None, engine=engine, label=label)


def get_run(run_id: int, db: DbArg = None) -> Run:
    """One stored run; :class:`UnknownRun` if there is none with that id."""
    from suanli.market.runs import get_run as _get

    with _session(db) as d:
        return _get(d, run_id)


def delete_runs(ids: Sequence[int], db: DbArg = None) -> int:
    """Delete these runs (all given ids must exist, else nothing is deleted)."""
    with _session(db) as d:
        found = {r.id for r in query_runs(d, ids=ids)}
        missing = sorted(set(ids) - found)
        if missing:
            raise UnknownRun(f"no run with id {', '.join(map(str, missing[:10]))}; nothing deleted", field="id")
        return _delete(d, ids)


_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
_KEYS = ("label", "hardware", "engine", "model", "format")


MAX_RUN_ID = 2**62     # below every database's integer limit


def _ids(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        m = _RANGE.match(part.strip())
        if not m:
            raise InvalidInput(f"run selector: {part.strip()!r} is not an id or a range like 5-9", field="runs")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise InvalidInput(f"run selector: range {part.strip()} runs backwards", field="runs")
        if hi > MAX_RUN_ID:
            raise InvalidInput(f"run selector: {part.strip()} is not a run id (ids are below {MAX_RUN_ID + 1:,})",
                               field="runs")
        if hi - lo > 1_000_000:
            raise InvalidInput(f"run selector: range {part.strip()} is too long", field="runs")
        out.update(range(lo, hi + 1))
    return out


def select_runs(db: DbArg, selector: str) -> list[Run]:
    """The runs a selector names, oldest first: ``all``; ids and ranges ``3,5-9``;
    ``label:NAME``, ``hardware:ID`` (aliases resolve), ``engine:NAME``, ``model:ID``,
    ``format:NAME``; parts joined with ``+`` must all hold (``hardware:H20+label:week49``).
    InvalidInput for a malformed selector; an empty list when nothing matches."""
    text = (selector or "").strip()
    if not text:
        raise InvalidInput("empty run selector: use all, ids like 3,5-9, or label:/hardware:/engine:/model:/format:",
                           field="runs")
    ids: set[int] | None = None
    filters: dict[str, str] = {}
    for part in text.split("+"):
        part = part.strip()
        key, sep, value = part.partition(":")
        if part == "all":
            continue
        if sep:
            key, value = key.strip().lower(), value.strip()
            if key not in _KEYS or not value:
                raise InvalidInput(f"run selector: {part!r}: use {', '.join(k + ':VALUE' for k in _KEYS)}",
                                   field="runs")
            if key in filters and filters[key] != value:
                return []
            filters[key] = value
        else:
            found = _ids(part)
            ids = found if ids is None else ids & found
    if "hardware" in filters:
        filters["hardware"] = _hardware_id(filters["hardware"])
    if "model" in filters:
        filters["model"] = _model_id(filters["model"])
    with _session(db) as d:
        return query_runs(d, ids=ids, **filters)
