"""CLI options built from the parameter declarations of :mod:`suanli.app.params`.

``option(P.TP)`` is the typer option of a declared parameter (flags, help with unit, metavar,
range); a command writes ``tp: Annotated[Optional[int], option(P.TP)] = P.TP.default``.  A
whole group (the 14 economics flags) is added to a command by :func:`with_group`, which hands
the values to the command as one dict.  :func:`declared` finds the declaration behind a click
option, so that :mod:`suanli.cli._errors` reports a value out of bounds with the declaration's
one message (the same as the API's and the Python API's).
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any, Callable, Optional

import typer

from suanli.app.params import ALL, Group, Param

# (flags, help) -> declaration, for the options built here
_BUILT: dict[tuple[tuple[str, ...], str], Param] = {}


def option(p: Param) -> Any:
    """The typer option of ``p``: its flags, help (with unit) and range."""
    kw: dict[str, Any] = {}
    if p.type in (int, float) and p.choices is None:
        lo = p.ge if p.ge is not None else p.gt
        hi = p.le if p.le is not None else p.lt
        if lo is not None:
            kw["min"] = p.type(lo)
        if hi is not None:
            kw["max"] = p.type(hi)
    _BUILT[(p.cli_flags, p.description)] = p
    return typer.Option(*p.cli_flags, help=p.description, metavar=p.metavar, **kw)


def annotation(p: Param) -> Any:
    """``Annotated[type, option(p)]`` (Optional when the parameter has no default)."""
    base: Any = Optional[p.type] if p.optional else p.type
    return Annotated[base, option(p)]


def declared(click_param: Any) -> Param | None:
    """The declaration behind a click option built by :func:`option`, else None."""
    key = (tuple(getattr(click_param, "opts", ()) or ()), getattr(click_param, "help", None) or "")
    return _BUILT.get(key)


def with_group(group: Group, into: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add one option per parameter of ``group`` to a command (after its own options) and
    pass their values to its ``into`` parameter as ``{name: value}``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = [q for q in sig.parameters.values() if q.name != into]
        added = [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default,
                                   annotation=annotation(p)) for p in group]
        names = [p.name for p in group]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            kwargs[into] = {name: kwargs.pop(name) for name in names}
            return fn(**kwargs)

        params = [q.replace(kind=inspect.Parameter.KEYWORD_ONLY) for q in own] + added
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {q.name: q.annotation for q in params}
        return command

    return decorate


__all__ = ["ALL", "annotation", "declared", "option", "with_group"]
