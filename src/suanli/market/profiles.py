"""Stored calibration profiles fitted on a user's own runs (``suanli calibrate``).

A profile is one JSON document (its layout is :mod:`suanli.app.profile`'s; this layer only
stores it) kept in the ``calibration_profiles`` table, one row per name: fitting a profile
again under the same name replaces it in one transaction.  Rows of this kind carry
:data:`MARK` in ``notes``; other calibration rows of the table are left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from suanli.errors import InvalidInput
from suanli.market import schema
from suanli.market.db import Database

MARK = "format=suanli-profile"
NAME_MAX = 100


@dataclass(frozen=True, kw_only=True)
class StoredProfile:
    name: str
    date: dt.date
    source: str
    document: dict[str, Any]


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(name: str) -> str:
    """A profile name: 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit,
    not ending in '.json' (that names a profile file) -- safe in a URL path and a file name."""
    text = (name or "").strip()
    if not _NAME.fullmatch(text) or text.lower().endswith(".json"):
        raise InvalidInput(f"profile name must be 1-{NAME_MAX} letters, digits, '.', '_' or '-' (not ending in "
                           f".json), got {name!r}", field="profile")
    return text


def save_profile(db: Database, *, name: str, document: Mapping[str, Any], date_: dt.date, source: str) -> None:
    """Store ``document`` as profile ``name``, replacing an earlier profile of that name."""
    from sqlalchemy import delete, insert

    name = check_name(name)
    source = " ".join((source or "suanli calibrate").split())[:500]
    text = json.dumps(dict(document), sort_keys=True, allow_nan=False)
    t = schema.calibration_profiles
    with db.write() as conn:
        conn.execute(delete(t).where(t.c.name == name, t.c.notes == MARK))
        conn.execute(insert(t).values(name=name, engine="", hardware="", model="", date=date_, params=text,
                                      source=source, notes=MARK))


def load_profile(db: Database, name: str) -> StoredProfile | None:
    from sqlalchemy import select

    t = schema.calibration_profiles
    stmt = (select(t).where(t.c.name == check_name(name), t.c.notes == MARK)
            .order_by(t.c.date.desc(), t.c.id.desc()).limit(1))
    with db.read() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    return StoredProfile(name=row.name, date=row.date, source=row.source, document=json.loads(row.params))


def list_profiles(db: Database) -> list[StoredProfile]:
    from sqlalchemy import select

    t = schema.calibration_profiles
    with db.read() as conn:
        rows = conn.execute(select(t).where(t.c.notes == MARK).order_by(t.c.name, t.c.id)).all()
    return [StoredProfile(name=r.name, date=r.date, source=r.source, document=json.loads(r.params)) for r in rows]


def delete_profile(db: Database, name: str) -> int:
    """Delete profile ``name``; the number of rows removed (0 if there was none)."""
    from sqlalchemy import delete

    t = schema.calibration_profiles
    with db.write() as conn:
        return int(conn.execute(delete(t).where(t.c.name == check_name(name), t.c.notes == MARK)).rowcount or 0)


__all__ = ["MARK", "StoredProfile", "check_name", "delete_profile", "list_profiles", "load_profile", "save_profile"]
