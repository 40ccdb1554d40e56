"""Profiles as the interfaces use them: fit from stored runs, store, look up by name or
file, export and import.

``--profile`` / ``?profile=`` takes a profile *name* in the database (``suanli calibrate
--profile NAME``) or, on the command line, the path of an exported profile file
(``*.json``).  Every function that opens a database takes ``db`` like
:mod:`suanli.app.market` (an open database, a URL / SQLite path, or None for the default).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from suanli.app.calibration import Calibration, load_calibration
from suanli.app.market import DbArg, _Session
from suanli.app.profile import Profile, check_against_catalog, fit_profile, profile_from_dict, profile_from_json
from suanli.errors import ConfigError, InvalidInput
from suanli.market import profiles as store


def _today() -> dt.date:
    return dt.date.today()


def calibrate_rows(rows: Iterable[Mapping[str, str]], *, name: str, db: DbArg = None, source: str = "",
                   save: bool = True, progress: Callable[[int, int], None] | None = None) -> Profile:
    """Fit profile ``name`` on measured case-schema rows and store it (replacing a profile
    of that name).  Nothing is stored when the fit fails."""
    name = store.check_name(name)
    today = _today()
    prof = fit_profile(list(rows), name=name, source=source, created=today.isoformat(), progress=progress)
    if save:
        with _Session(db) as database:
            store.save_profile(database, name=name, document=prof.to_dict(), date_=today,
                               source=source or "suanli calibrate")
    return prof


def calibrate_runs(selector: str, *, name: str, db: DbArg = None, save: bool = True,
                   progress: Callable[[int, int], None] | None = None) -> Profile:
    """Fit profile ``name`` on the stored runs that ``selector`` picks (see
    :func:`suanli.app.runs.select_runs`) and store it."""
    from suanli.app.runs import select_runs

    with _Session(db) as database:
        runs = select_runs(database, selector)
        if not runs:
            raise InvalidInput(f"no stored runs match {selector!r} (suanli runs list shows them)", field="runs")
        rows = [row for run in runs for row in run.to_case_rows()]
        return calibrate_rows(rows, name=name, db=database, source=f"suanli calibrate --runs {selector}",
                              save=save, progress=progress)


def get_profile(ref: str, *, db: DbArg = None, allow_file: bool = True) -> Profile:
    """Profile ``ref``: the path of an exported profile file (when ``allow_file``), else a
    name in the database.  Raises :class:`InvalidInput` naming what exists."""
    ref = (ref or "").strip()
    if allow_file and ref.lower().endswith(".json"):
        path = Path(ref)
        if not path.is_file():
            raise InvalidInput(f"profile file not found: {ref}", field="profile")
        try:
            prof = profile_from_json(path.read_bytes(), origin=str(path))
            check_against_catalog(prof, origin=str(path))
            return prof
        except OSError as exc:
            raise InvalidInput(f"cannot read profile file {ref}: {exc.strerror or exc}", field="profile") from None
    name = store.check_name(ref)
    with _Session(db) as database:
        stored = store.load_profile(database, name)
        if stored is None:
            names = [p.name for p in store.list_profiles(database)]
            known = f"stored profiles: {', '.join(names)}" if names else "no profiles are stored yet"
            raise InvalidInput(f"no profile named {name!r} ({known}; fit one with suanli calibrate "
                               f"--runs SELECTOR --profile NAME)", field="profile")
    try:
        return profile_from_dict(stored.document, origin=f"profile {name}")
    except ConfigError as exc:
        raise InvalidInput(str(exc), field="profile") from None


def calibration_with_profile(ref: str | None, *, db: DbArg = None, allow_file: bool = True,
                             calibration: Calibration | None = None) -> Calibration | None:
    """The calibration to predict with: the bundled one with profile ``ref`` applied, or
    None (the default) when no profile is asked for."""
    if not ref:
        return calibration
    return (calibration or load_calibration()).with_profile(get_profile(ref, db=db, allow_file=allow_file))


def list_profiles(db: DbArg = None) -> list[dict[str, Any]]:
    with _Session(db) as database:
        out = []
        for p in store.list_profiles(database):
            doc = p.document
            scopes = doc.get("scopes", []) if isinstance(doc, dict) else []
            out.append({"name": p.name, "date": p.date.isoformat(), "source": p.source,
                        "runs": len(doc.get("runs", [])) if isinstance(doc, dict) else 0,
                        "covers": sorted({f"{s.get('hardware')} x {s.get('engine')}" for s in scopes
                                          if isinstance(s, dict)})})
        return out


def delete_profile(name: str, *, db: DbArg = None) -> bool:
    with _Session(db) as database:
        return store.delete_profile(database, name) > 0


def export_profile(name: str, *, db: DbArg = None) -> str:
    """Profile ``name`` as the JSON text of a profile file."""
    return get_profile(name, db=db, allow_file=False).to_json()


def import_profile(text: str | bytes, *, db: DbArg = None, name: str | None = None, origin: str = "profile file",
                   replace: bool = False) -> Profile:
    """Store an exported profile (optionally under another ``name``).  An existing profile
    of that name is kept unless ``replace``."""
    prof = profile_from_json(text, origin=origin)
    check_against_catalog(prof, origin=origin)
    if name:
        from dataclasses import replace as _replace
        prof = _replace(prof, name=store.check_name(name), _index={})
    with _Session(db) as database:
        if not replace and store.load_profile(database, prof.name) is not None:
            raise InvalidInput(f"a profile named {prof.name!r} exists; pass --replace or --name OTHER",
                               field="name")
        created = prof.created
        try:
            day = dt.date.fromisoformat(created) if created else _today()
        except ValueError:
            day = _today()
        store.save_profile(database, name=prof.name, document=prof.to_dict(), date_=day,
                           source=prof.source or f"imported from {os.path.basename(origin)}")
    return prof


__all__ = ["calibrate_rows", "calibrate_runs", "calibration_with_profile", "delete_profile", "export_profile",
           "get_profile", "import_profile", "list_profiles"]
