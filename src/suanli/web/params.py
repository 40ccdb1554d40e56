"""API query parameters and body fields built from :mod:`suanli.app.params`.

``field(P.TP)`` is the pydantic field of a declared parameter (default, bounds, description
with unit); ``query(P.TP)`` the FastAPI query parameter; :func:`group_dependency` a
dependency taking every parameter of a group and returning ``{name: value}``.  A value out of
bounds answers 422 with the declaration's one message (:func:`bound_message`, used by
:mod:`suanli.web.errors`), the same as the CLI's and the Python API's.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Callable, Literal, Optional

from fastapi import Query
from pydantic import Field

from suanli.app.params import ALL, Group, Param

_BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number",
                           "literal_error"})


def _bounds(p: Param) -> dict[str, Any]:
    kw: dict[str, Any] = {k: getattr(p, k) for k in ("ge", "gt", "le", "lt") if getattr(p, k) is not None}
    if p.type is float:
        kw["allow_inf_nan"] = False
    return kw


def field(p: Param, **more: Any) -> Any:
    """The pydantic ``Field`` of ``p`` (for a query or body model)."""
    return Field(p.default, description=p.description, **_bounds(p), **more)


def query(p: Param, **more: Any) -> Any:
    """The FastAPI ``Query`` of ``p`` (its default goes on the function parameter)."""
    return Query(description=p.description, **_bounds(p), **more)


def python_type(p: Param) -> Any:
    """The annotation of ``p``'s value: a Literal of its choices, else its type; Optional
    when it has no default."""
    base: Any = Literal[p.choices] if p.choices is not None else p.type
    return Optional[base] if p.optional else base


def group_dependency(group: Group, name: str) -> Callable[..., dict[str, Any]]:
    """A FastAPI dependency with one query parameter per member of ``group``, returning
    ``{name: value}``."""

    def dependency(**values: Any) -> dict[str, Any]:
        return values

    dependency.__name__ = dependency.__qualname__ = name
    params = [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default,
                                annotation=Annotated[python_type(p), query(p)]) for p in group]
    dependency.__signature__ = inspect.Signature(params, return_annotation=dict[str, Any])  # type: ignore[attr-defined]
    return dependency


def bound_message(name: str, error_type: str, value: Any, ctx: dict[str, Any] | None = None) -> str | None:
    """The declaration's message for a validation error of parameter ``name``, or None
    when ``name`` is not declared, or the error is not about the declaration's bounds or
    choices (a route may bound a parameter of the same name more tightly)."""
    if error_type not in _BOUND_ERRORS:
        return None
    p = next((p for p in ALL if p.name == name), None)
    if p is None:
        return None
    for key, limit in (ctx or {}).items():
        if key in ("ge", "gt", "le", "lt") and getattr(p, key) != limit:
            return None
    if isinstance(value, str) and p.choices is None:
        try:
            number = float(value)
            value = int(number) if p.type is int and number.is_integer() else number
        except ValueError:
            pass
    return p.message(value)


__all__ = ["bound_message", "field", "group_dependency", "python_type", "query"]
