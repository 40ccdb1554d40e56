"""Output files and private directories, the same way everywhere.

* :func:`check_output` refuses an output path before any work is done: a wrong extension
  for the format, a missing directory, a directory, or a file that must never be
  overwritten (the market database and its ``-wal`` / ``-shm`` / ``-journal`` files),
  compared after resolving symlinks and relative paths (and by inode when both exist).
* :func:`atomic_output` / :func:`atomic_write` write to a temporary file in the target's
  directory and rename it into place, so a failed write never truncates an existing file;
  the result gets an explicit mode (0644 for exports and charts, 0600 for backups) whatever
  the process umask.
* :func:`private_dir` creates a directory (and missing parents) with mode 0700.
* :func:`parse_json` is ``json.loads`` for files a user gives: a document nested too deeply
  to parse is a :class:`json.JSONDecodeError` like any other malformed one, never a
  ``RecursionError``.
* :func:`row_count` reads an optional whole-number field (>= 1) of a CSV row a user gives
  (the validation-case schema's ``gpus``, ``tp``, ``num_requests`` ...), one message everywhere.

Standard library only: every layer that writes files (market, app, interfaces) uses it.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from suanli.errors import InvalidInput, OutputError

PUBLIC_FILE = 0o644
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def suffix_of(path: Path, suffixes: Iterable[str]) -> str | None:
    """The entry of ``suffixes`` (``.csv``, ``.json.gz``) the file name ends with, the longest
    first, compared without case; None when none matches."""
    name = path.name.lower()
    for s in sorted(suffixes, key=len, reverse=True):
        if name.endswith(s.lower()) and len(name) > len(s):
            return s
    return None


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (symlinks and ``..`` resolved; same inode
    when both exist)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.expanduser().resolve(strict=False) == b.expanduser().resolve(strict=False)


def check_output(path: str | Path, *, suffixes: Iterable[str], field: str, what: str = "output file",
                 protected: Iterable[Path] = ()) -> Path:
    """``path`` as a Path when it may be written (see the module doc); else InvalidInput
    naming ``field``."""
    p = Path(path).expanduser()
    allowed = tuple(suffixes)
    if suffix_of(p, allowed) is None:
        raise InvalidInput(f"{what} must end in {' or '.join(allowed)}, got {p.name!r}", field=field)
    if not p.parent.is_dir():
        raise InvalidInput(f"directory for the {what} does not exist: {p.parent}", field=field)
    if p.is_dir():
        raise InvalidInput(f"{what} {p} is a directory", field=field)
    for keep in protected:
        if same_file(p, keep):
            raise InvalidInput(f"refusing to write the {what} over {keep}: that is the market database",
                               field=field)
    return p


@contextmanager
def atomic_output(path: str | Path, *, mode: int = PUBLIC_FILE) -> Iterator[Path]:
    """A temporary path next to ``path`` (same extensions, so writers that pick the format
    from the name still work); renamed onto ``path`` with ``mode`` when the block ends
    normally, removed otherwise."""
    target = Path(path).expanduser()
    ext = "".join(target.suffixes[-2:]) if target.suffix.lower() == ".gz" else target.suffix
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{ext}")
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:  # disk full, file too large, permissions: the old file stays
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}; {target.name} is unchanged") from None
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, data: str | bytes, *, mode: int = PUBLIC_FILE) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` all or nothing (see :func:`atomic_output`)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_output(path, mode=mode) as tmp:
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
    return Path(path).expanduser()


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700 (whatever the umask); an
    existing directory is left as it is."""
    p = Path(path).expanduser()
    missing = []
    cur = p
    while not cur.exists():
        missing.append(cur)
        if cur.parent == cur:
            break
        cur = cur.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # created concurrently by another process
        os.chmod(d, PRIVATE_DIR)
    return p


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``; a document nested too deeply is a ``JSONDecodeError``."""
    try:
        return json.loads(text)
    except RecursionError:
        doc = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        raise json.JSONDecodeError("nested too deeply", doc[:100], 0) from None


def row_count(row: dict[str, str], key: str) -> int | None:
    """Optional integer >= 1 of a CSV row: None when empty, ValueError naming ``key`` otherwise."""
    text = (row.get(key) or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{key} must be an integer >= 1, got {text!r}")
    return int(text)
