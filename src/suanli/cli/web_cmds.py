"""``suanli serve``: the web dashboard and JSON API (FastAPI, run by uvicorn)."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from suanli.cli._errors import fail
from suanli.cli.main import app

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MIN_TOKEN_CHARS = 16
SQLITE_HEADER = b"SQLite format 3\x00"


def check_database_file(url: str | None) -> None:
    """A SQLite database given as an existing file must be one (an empty file is a new
    database): say so before serving, rather than answering 503 to every market request."""
    from suanli.market.db import database_files

    files = database_files(url)
    if files and files[0].is_file():
        with open(files[0], "rb") as f:
            head = f.read(len(SQLITE_HEADER))
        if head and head != SQLITE_HEADER:
            raise fail(f"--db {files[0]} is not a SQLite database (and is left untouched)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default; put a reverse proxy "
                                           "in front for anything else, see docs/deploy.md).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    db: Annotated[Optional[str], typer.Option("--db", metavar="URL",
                                              help="Market database (SQLite path / sqlite:///..., postgresql://...). "
                                                   "Default: $SUANLI_DATABASE_URL, else the market default file.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    proxy_headers: Annotated[bool, typer.Option("--proxy-headers/--no-proxy-headers",
                                                help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.")] = False,
    forwarded_allow_ips: Annotated[Optional[str], typer.Option(
        "--forwarded-allow-ips", metavar="IPS", help="Comma-separated proxy addresses whose forwarded headers are "
                                                     "trusted (default 127.0.0.1).")] = None,
    root_path: Annotated[str, typer.Option("--root-path", help="URL prefix when served under a sub-path.")] = "",
    log_level: Annotated[str, typer.Option("--log-level", help="critical|error|warning|info|debug.")] = "info",
) -> None:
    """Serve the dashboard (HTML pages with charts) and the JSON API (OpenAPI at /docs).

    Settings from the environment: SUANLI_API_TOKEN (write endpoints), SUANLI_CORS_ORIGINS,
    SUANLI_MAX_UPLOAD_BYTES, SUANLI_DATABASE_URL.
    """
    try:
        import uvicorn

        import suanli.web.app  # noqa: F401  (fail here, with the hint, if fastapi is missing)
    except ImportError as exc:
        raise fail(f"suanli serve needs the web extra: pip install 'suanli[web]' ({exc.name} missing)") from None
    from suanli.web.settings import load_settings

    settings = load_settings(db_url=db)  # a malformed setting is one line and exit 2, before binding the port
    check_database_file(settings.db_url)
    if host not in LOOPBACK:
        typer.echo(f"note: listening on {host}, not loopback; reads are open to anyone who can reach it "
                   "(see docs/deploy.md)", err=True)
        if not settings.api_token:
            typer.echo("note: SUANLI_API_TOKEN is not set: the write endpoints (imports, inventories, "
                       "calibration) answer 403 until it is", err=True)
    token = settings.api_token or ""
    if token and len(token) < MIN_TOKEN_CHARS:
        typer.echo(f"warning: SUANLI_API_TOKEN is only {len(token)} character{'s' if len(token) != 1 else ''} "
                   f"long and easy to guess; use at least {MIN_TOKEN_CHARS}, e.g. "
                   "python -c \"import secrets; print(secrets.token_urlsafe(32))\"", err=True)
    if db:
        os.environ["SUANLI_DATABASE_URL"] = db  # read by create_app in every worker
    uvicorn.run("suanli.web.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips, root_path=root_path,
                log_level=log_level, server_header=False)
