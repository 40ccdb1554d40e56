"""Writing result tables: Parquet (pyarrow) or CSV, all-or-nothing (a temporary
file renamed into place, so a failure never leaves a partial file)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from suanli.errors import InvalidInput
from suanli.files import atomic_output, check_output


def check_table_path(path: Path) -> None:
    check_output(path, suffixes=(".parquet", ".csv"), field="out", what="--out file")


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def write_table(columns: Mapping[str, np.ndarray], path: Path) -> int:
    """Write columns to ``path`` (format from the suffix); returns the row count."""
    check_table_path(path)
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    with atomic_output(path) as tmp:
        if path.suffix.lower() == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise InvalidInput("Parquet output needs pyarrow: pip install 'suanli[parquet]' (or use .csv)",
                                   field="out") from None
            table = pa.table({k: (np.asarray(v).astype(str) if np.asarray(v).dtype == object else np.asarray(v))
                              for k, v in columns.items()})
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(names)
                for i in range(n):
                    w.writerow([_plain(columns[k][i]) for k in names])
    return n
