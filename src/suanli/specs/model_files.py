"""Where model configs live on the user's machine: the local Hugging Face cache and the
directories of ``SUANLI_MODELS_PATH``.  Nothing is ever downloaded.

Hugging Face cache (the layout ``huggingface_hub`` writes)::

    <cache>/models--<org>--<name>/refs/main              (commit hash of the main branch)
    <cache>/models--<org>--<name>/snapshots/<hash>/config.json

``<cache>`` is, in this order, ``$HF_HUB_CACHE``, ``$HUGGINGFACE_HUB_CACHE`` (its older
name), ``$HF_HOME/hub`` and ``$XDG_CACHE_HOME/huggingface/hub`` (default
``~/.cache/huggingface/hub``).  The snapshot is the one ``refs/main`` names when it holds a
``config.json``, else the newest snapshot (latest ``config.json`` modification time).

``SUANLI_MODELS_PATH`` lists directories (separated by ``os.pathsep``, ``:`` on Linux), each
holding models as ``<org>__<name>/config.json`` (the bundled layout),
``<org>/<name>/config.json``, ``<name>/config.json`` or an HF-cache tree.

Ids match case-insensitively; an id without an org (``Qwen3-32B``) matches when exactly
one model of that name is found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

MODELS_PATH_ENV = "SUANLI_MODELS_PATH"


@dataclass(frozen=True)
class LocalConfig:
    """A config.json found on this machine: the model id it stands for, the file and the
    kind of place it was found in (``"Hugging Face cache"`` or ``SUANLI_MODELS_PATH``)."""

    model_id: str
    path: Path
    where: str

    @property
    def origin(self) -> str:
        return f"{self.where}: {self.path}"


def hf_cache_dirs(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    """Candidate Hugging Face hub cache directories, most specific first (duplicates and
    unset variables dropped; the directories need not exist)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    out: list[Path] = []
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            out.append(Path(env[key]).expanduser())
    if env.get("HF_HOME"):
        out.append(Path(env["HF_HOME"]).expanduser() / "hub")
    xdg = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else home / ".cache"
    out.append(xdg / "huggingface" / "hub")
    return list(dict.fromkeys(out))


def models_path_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """The directories listed in ``SUANLI_MODELS_PATH`` (empty entries ignored)."""
    env = os.environ if env is None else env
    return [Path(p).expanduser() for p in env.get(MODELS_PATH_ENV, "").split(os.pathsep) if p.strip()]


def _is_config(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def snapshot_config(repo_dir: Path) -> Path | None:
    """``config.json`` of an HF-cache repo folder (``models--org--name``): the snapshot
    ``refs/main`` points to, else the newest snapshot holding one."""
    try:
        ref = (repo_dir / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        ref = ""
    if ref and "/" not in ref and ref not in (".", ".."):
        cfg = repo_dir / "snapshots" / ref / "config.json"
        if _is_config(cfg):
            return cfg
    found = [s / "config.json" for s in _subdirs(repo_dir / "snapshots") if _is_config(s / "config.json")]
    if not found:
        return None

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0
    return max(found, key=lambda p: (mtime(p), p.parent.name))


def _hf_repos(cache: Path) -> Iterator[tuple[str, Path]]:
    """(model id, config.json) of every model repo in one HF cache directory."""
    for repo in _subdirs(cache):
        parts = repo.name.split("--")
        if len(parts) < 3 or parts[0] != "models":
            continue
        cfg = snapshot_config(repo)
        if cfg is not None:
            yield f"{parts[1]}/{'--'.join(parts[2:])}", cfg


def _models_dir(folder: Path) -> Iterator[tuple[str, Path]]:
    """(model id, config.json) of every model under one SUANLI_MODELS_PATH directory."""
    yield from _hf_repos(folder)
    for sub in _subdirs(folder):
        if sub.name.startswith("models--"):
            continue
        if _is_config(sub / "config.json"):
            yield (sub.name.replace("__", "/", 1) if "__" in sub.name else sub.name), sub / "config.json"
            continue
        for inner in _subdirs(sub):  # <org>/<name>/config.json
            if _is_config(inner / "config.json"):
                yield f"{sub.name}/{inner.name}", inner / "config.json"


def local_configs(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[LocalConfig]:
    """Every model config found in ``SUANLI_MODELS_PATH`` and the HF caches, in search
    order (a model found twice is listed once, where it was found first)."""
    seen: set[str] = set()
    out: list[LocalConfig] = []
    sources: list[tuple[Path, str, Callable[[Path], Iterator[tuple[str, Path]]]]]
    sources = [(d, MODELS_PATH_ENV, _models_dir) for d in models_path_dirs(env)]
    sources += [(d, "Hugging Face cache", _hf_repos) for d in hf_cache_dirs(env, home)]
    for folder, where, scan in sources:
        for model_id, cfg in scan(folder):
            key = model_id.lower()
            if key not in seen:
                seen.add(key)
                out.append(LocalConfig(model_id=model_id, path=cfg, where=where))
    return out


def find_local_config(name: str, env: Mapping[str, str] | None = None,
                      home: Path | None = None) -> LocalConfig | None:
    """The local config of model ``name`` (``org/name`` or ``name``), or None."""
    key = name.strip().lower()
    if not key:
        return None
    found = local_configs(env, home)
    exact = [c for c in found if c.model_id.lower() == key]
    if exact:
        return exact[0]
    if "/" not in key:
        by_name = [c for c in found if c.model_id.lower().split("/")[-1] == key]
        if len({c.model_id.lower() for c in by_name}) == 1:
            return by_name[0]
    return None


def model_id_from_path(path: Path) -> str:
    """A model id for a config file: ``org/name`` from an HF-cache snapshot path or an
    ``org__name`` folder, else the folder's (or the file's) name."""
    parts = Path(os.path.abspath(path)).parts   # not resolve(): snapshot files link into blobs/
    for i, part in enumerate(parts):
        bits = part.split("--")
        if bits[0] == "models" and len(bits) >= 3 and i + 1 < len(parts) and parts[i + 1] == "snapshots":
            return f"{bits[1]}/{'--'.join(bits[2:])}"
    if path.name == "config.json":
        return path.parent.name.replace("__", "/", 1) or "config"
    return path.stem


__all__ = ["LocalConfig", "MODELS_PATH_ENV", "find_local_config", "hf_cache_dirs", "local_configs",
           "model_id_from_path", "models_path_dirs", "snapshot_config"]
