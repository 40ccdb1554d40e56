"""How the CLI turns errors a user can cause into one line on stderr.

Every :class:`suanli.errors.SuanliError` and every click usage error (bad flag
value, missing option, unknown command) becomes exactly one line
``error: <message>`` on stderr and exit code 2 -- never a traceback.  Anything
else is a bug and is left to raise.
"""

from __future__ import annotations

import math
from typing import Any

import typer
from typer.core import TyperGroup

from suanli.cli._params import declared
from suanli.errors import InvalidInput, SuanliError

EXIT_BAD_INPUT = 2


def _exception_classes(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from click and from the copy of click that newer typer releases vendor."""
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            cls = getattr(__import__(module, fromlist=[name]), name)
        except (ImportError, AttributeError):
            continue
        if cls not in found:
            found.append(cls)
    return tuple(found)


_USAGE_ERRORS = _exception_classes("UsageError")
_NO_ARGS_IS_HELP = _exception_classes("NoArgsIsHelpError")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; return the Exit(2) to raise."""
    typer.echo(f"error: {one_line(message)}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _usage_message(exc: Any) -> str:
    message = str(exc.format_message())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


_BAD_PARAMETER = _exception_classes("BadParameter")


def _bad_parameter(message: str, *, ctx: Any, param: Any) -> BaseException:
    """click's ``BadParameter`` (the first copy found), which takes the context and parameter."""
    cls: Any = _BAD_PARAMETER[0]
    return cls(message, ctx=ctx, param=param)


def _finite(value: Any) -> bool:
    items = value if isinstance(value, (list, tuple)) else (value,)
    return all(math.isfinite(v) for v in items if isinstance(v, float))


def _as_number(value: Any) -> Any:
    items = value if isinstance(value, (list, tuple)) else (value,)
    out = []
    for v in items:
        try:
            out.append(float(v) if isinstance(v, str) else v)
        except ValueError:
            out.append(v)
    return out


def require_finite_numbers(cmd: Any) -> None:
    """Make every parameter of ``cmd`` refuse ``nan``, ``inf`` and overflowing numbers
    (``1e999``) as a bad value: no command of suanli means anything by them."""
    if getattr(cmd, "_suanli_finite", False) or not _BAD_PARAMETER:
        return
    for param in getattr(cmd, "params", ()):
        process = getattr(param, "process_value", None)
        if process is None:
            continue

        def checked(ctx: Any, value: Any, _process: Any = process, _param: Any = param) -> Any:
            p = declared(_param)
            try:
                out = _process(ctx, value)
            except _BAD_PARAMETER:
                number = _as_number(value)
                if p is not None and len(number) == 1 and isinstance(number[0], (int, float)):
                    # a declared parameter out of its range: the declaration's one message
                    given = number[0]
                    if p.type is int and float(given).is_integer():
                        given = int(given)
                    raise InvalidInput(p.message(given), field=p.name) from None
                if not _finite(number):  # 'nan' failing a range check: say why
                    raise _bad_parameter("not a finite number", ctx=ctx, param=_param) from None
                raise
            if not _finite(out):
                if p is not None:
                    raise InvalidInput(p.message(out), field=p.name)
                raise _bad_parameter("not a finite number", ctx=ctx, param=_param)
            if p is not None:
                p.check(out)   # open bounds (> 0) and choices, which click's ranges do not express
            return out

        param.process_value = checked
    cmd._suanli_finite = True


class SuanliGroup(TyperGroup):
    """Typer group rendering user errors of any sub-command as one line; numbers given to
    any sub-command must be finite."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:
            require_finite_numbers(cmd)
        return name, cmd, rest

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _NO_ARGS_IS_HELP:
            raise  # `suanli hardware` alone: show the help, as click does
        except _USAGE_ERRORS as exc:
            raise fail(_usage_message(exc)) from None
        except SuanliError as exc:
            raise fail(str(exc)) from None
