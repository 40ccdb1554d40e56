"""``?profile=NAME``: a calibration profile fitted on a user's own runs, stored in the app's
database (:mod:`suanli.app.profiles`), resolved once per request.

Only names: the web never opens a profile file a request names (``allow_file=False``).
An unknown name is a 422 naming ``profile`` and listing the stored profiles.

Results are cached per request parameters (compare, report, the compare page's money
column).  A :class:`ProfileRef` is hashed and compared by the profile's name *and a digest
of its document*, and it is part of every cache key: a profile refitted, re-imported or
deleted under the same name is never answered from a stale entry (the next request reads
the stored document again, which costs ~1 ms).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Annotated, Any, Optional, Sequence

from fastapi import Depends, Query, Request

PROFILE_DESCRIPTION = ("Calibration profile fitted on your own benchmark runs (a name stored in this server's "
                       "database, see /api/profiles): predictions on the chips and engines it covers are corrected "
                       "and say so")
ProfileQ = Annotated[Optional[str], Query(max_length=100, description=PROFILE_DESCRIPTION)]


class ProfileRef:
    """A stored profile as one request saw it: ``name``, ``digest`` (of its JSON document)
    and the :class:`~suanli.app.profile.Profile` itself."""

    __slots__ = ("name", "digest", "profile")

    def __init__(self, profile: Any) -> None:
        self.profile = profile
        self.name: str = profile.name
        self.digest = hashlib.sha256(profile.to_json().encode("utf-8")).hexdigest()[:16]

    def __hash__(self) -> int:
        return hash((self.name, self.digest))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProfileRef) and (self.name, self.digest) == (other.name, other.digest)

    def __repr__(self) -> str:  # shows in cache keys and logs
        return f"ProfileRef({self.name!r}, {self.digest})"

    def summary(self) -> dict[str, Any]:
        """What a response says about the profile it used."""
        p = self.profile
        return {"name": p.name, "created": p.created, "runs": p.n_runs, "digest": self.digest,
                "covers": sorted({f"{s.hardware} x {s.engine}" for s in p.scopes})}

    def note_in(self, notes: Sequence[str]) -> str:
        """The profile's note among a result's notes ("calibrated on N of your runs (profile
        NAME); ..." or "profile NAME has no runs for ...: uncalibrated"), else ''."""
        return next((n for n in notes if f"(profile {self.name})" in n or n.startswith(f"profile {self.name} ")), "")


def resolve(request: Request, name: str | None) -> ProfileRef | None:
    """Profile ``name`` from the app's database (None when no profile is asked for)."""
    name = (name or "").strip()
    if not name:
        return None
    from suanli.app.profiles import get_profile
    from suanli.web.routes.market_api import market_db

    return ProfileRef(get_profile(name, db=market_db(request), allow_file=False))


def profile_param(request: Request, profile: ProfileQ = None) -> ProfileRef | None:
    return resolve(request, profile)


ProfileDep = Annotated[Optional[ProfileRef], Depends(profile_param)]


@functools.lru_cache(maxsize=16)
def calibration(ref: ProfileRef | None) -> Any:
    """The bundled calibration with the profile applied (None: the default), one per profile
    version, so its per-chip cache is shared by the requests using it."""
    if ref is None:
        return None
    from suanli.app.calibration import load_calibration

    return load_calibration().with_profile(ref.profile)


def summary(ref: ProfileRef | None) -> dict[str, Any] | None:
    return None if ref is None else ref.summary()
