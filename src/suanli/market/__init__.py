"""Market storage: quotes, leases, events, systems, inventories and calibration profiles in
SQL (a SQLite file by default, PostgreSQL by URL), with validated, idempotent imports and a
weekly per-GPU price index.

Public API (imported lazily, so ``import suanli.market`` loads no database code)::

    from suanli.market import open_db, import_file, quotes, events, inventories, price_index

* :func:`open_db` (``db``): open, migrate and seed a database.
* :func:`import_file` (``ingest``): all-or-nothing, idempotent import of a CSV/JSON file.
* :func:`quotes`, :func:`events`, :func:`leases`, :func:`inventories`, :func:`systems`
  (``query``): frozen records.
* :func:`price_index` (``index``): weekly per-GPU series by channel with events;
  :func:`compute_index` (``pricing``) is the pure computation.
* :func:`backup_database`, :func:`restore_database` (``backup.backup`` / ``backup.restore``).
* :class:`Run`, :func:`query_runs` (``runs``): benchmark runs read from result files by
  :mod:`suanli.market.bench_formats` (imported through :mod:`suanli.app.runs`).

This layer never imports ``perf``; the use cases that combine it with the models live in
:mod:`suanli.app.market`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_API = {
    "Database": "db", "open_db": "db", "resolve_url": "db", "default_sqlite_path": "db",
    "import_file": "ingest", "ImportResult": "ingest",
    "quotes": "query", "events": "query", "leases": "query", "inventories": "query", "systems": "query",
    "calibration_profiles": "query", "save_calibration_profile": "query",
    "Quote": "query", "Event": "query", "Lease": "query", "InventoryLot": "query", "System": "query",
    "price_index": "index", "PriceIndex": "index",
    "compute_index": "pricing", "HostCostModel": "pricing", "IndexSeries": "pricing", "IndexPoint": "pricing",
    "Observation": "pricing",
    "backup_database": "backup:backup", "restore_database": "backup:restore",
    "DatabaseError": "errors", "ImportRejected": "errors", "RowProblem": "errors",
    "Run": "runs", "query_runs": "runs",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'suanli.market' has no attribute {name!r}")
    module, _, attr = module.partition(":")
    return getattr(import_module(f"suanli.market.{module}"), attr or name)
