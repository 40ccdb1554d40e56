"""Server settings, declared once as data (name, environment variable, default, help).

:func:`load_settings` reads them from the environment; :func:`suanli.web.app.create_app`
takes overrides as keyword arguments; ``suanli serve --help`` and ``docs/deploy.md`` list
the same table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Callable

# Uploads (case files, imports, inventories, calibration profiles) larger than this are
# refused with 413 before their body is read: a validation-case file of the public set is
# ~60 KB, so 2 MiB leaves room for ~4,000 cases.
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be >= 1, got {value}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting("api_token", "SUANLI_API_TOKEN", None,
            "Token every write endpoint requires (Authorization: Bearer TOKEN or X-API-Token). "
            "Unset: write endpoints answer 403."),
    Setting("cors_origins", "SUANLI_CORS_ORIGINS", (),
            "Comma-separated origins allowed by CORS (https://a.example,https://b.example). "
            "Unset: no CORS headers at all.", _origins),
    Setting("max_upload_bytes", "SUANLI_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES,
            "Largest request body accepted, bytes; larger ones get 413 before being read.", _positive_int),
    Setting("db_url", "SUANLI_DATABASE_URL", None,
            "Market database URL (SQLite path or sqlite:///..., postgresql://...); "
            "default: the market module's own default."),
)


@dataclass(frozen=True, kw_only=True)
class Settings:
    api_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    db_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``env`` (default ``os.environ``), then ``overrides`` that are not None."""
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw = env.get(s.env)
        if raw is not None and raw.strip():
            try:
                values[s.name] = s.parse(raw.strip())
            except ValueError as exc:
                from suanli.errors import ConfigError
                raise ConfigError(f"${s.env}: {exc}", field=s.env) from None
    settings = Settings(**values)
    given = {k: v for k, v in overrides.items() if v is not None}
    if "cors_origins" in given and isinstance(given["cors_origins"], str):
        given["cors_origins"] = _origins(given["cors_origins"])
    return replace(settings, **given)
