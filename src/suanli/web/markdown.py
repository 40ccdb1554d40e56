"""The little Markdown that API descriptions use (``**bold**``, ``` `code` ``` and ``` ``code`` ```,
blank-line paragraphs), rendered as safe HTML: the text is escaped first, so nothing else
passes through."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_CODE = re.compile(r"``(.+?)``|`([^`]+?)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def inline(text: str) -> Markup:
    """One paragraph: escaped, then code spans and bold."""
    out = []
    pos = 0
    src = str(text or "")
    for m in _CODE.finditer(src):
        out.append(_bold(str(escape(src[pos:m.start()]))))
        out.append(f"<code>{escape(m.group(1) or m.group(2))}</code>")
        pos = m.end()
    out.append(_bold(str(escape(src[pos:]))))
    return Markup("".join(out))


def _bold(escaped: str) -> str:
    return _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", escaped)


def paragraphs(text: str) -> Markup:
    """Blank-line separated paragraphs, each through :func:`inline`."""
    parts = [p.strip() for p in re.split(r"\n\s*\n", str(text or "")) if p.strip()]
    return Markup("".join(f"<p>{inline(' '.join(p.split()))}</p>" for p in parts))


__all__ = ["inline", "paragraphs"]
