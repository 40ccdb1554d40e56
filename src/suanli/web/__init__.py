"""Web interface: FastAPI JSON API and server-rendered pages (``suanli serve``).

Needs the ``web`` extra (``pip install 'suanli[web]'``).  The package imports nothing
heavy until :func:`create_app` is called.
"""

from __future__ import annotations

from typing import Any


def create_app(db_url: str | None = None, **overrides: Any) -> Any:
    from suanli.web.app import create_app as _create

    return _create(db_url, **overrides)


__all__ = ["create_app"]
