"""JSON for the API: plain types only, non-finite floats as ``null`` (JSON has no NaN/inf)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields, is_dataclass
from typing import Any

from starlette.responses import JSONResponse as _StarletteJSON


def plain(value: Any) -> Any:
    """Dataclasses, tuples, numpy scalars/arrays and mappings -> JSON-able Python values;
    NaN and infinities -> None."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return plain(value.tolist())
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def fields_dict(obj: Any) -> dict[str, Any]:
    """A frozen result dataclass as a shallow dict of its fields (what ``to_dict()`` gives for
    results whose fields are plain values, tuples and flat dicts, without ``asdict``'s deep
    copies: the JSON encoder makes the lists)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


class JSONResponse(_StarletteJSON):
    """Compact UTF-8 JSON (Chinese names unescaped); non-finite floats become null."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(plain(content), ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode("utf-8")
