"""Transformer models described by a Hugging Face ``config.json``: where configs are found
and how they load.

A :class:`ModelSpec` (:mod:`suanli.specs.model_spec`) keeps only the structural numbers a
performance model needs (layer counts, widths, attention kind, MoE routing).  Parameter
counts are derived from them and checked in the tests against the totals the model
authors publish.  :mod:`suanli.specs.model_parse` reads the configs.

Supported families (by ``model_type``):

* dense GQA/MHA: ``llama``, ``qwen2``, ``qwen3``, ``mistral``;
* MoE with GQA: ``qwen3_moe``, ``mixtral``, ``gpt_oss`` (alternating
  sliding-window / full attention layers, per-expert biases), ``glm4_moe`` (shared expert,
  dense first layers), ``minimax_m2`` (per-layer QK norm);
* ``llama4_text`` (Llama 4: MoE with a shared expert, optionally interleaved with dense
  layers; chunked local attention on 3 of 4 layers);
* ``qwen3_next`` (Gated DeltaNet linear attention with a constant state on 3 of 4 layers,
  gated full attention on the rest, sparse MoE with a gated shared expert);
* MLA + MoE with shared experts and dense first layers: ``deepseek_v3``,
  ``kimi_k2`` (and ``deepseek_v2``); ``deepseek_v32`` adds DeepSeek sparse attention
  (lightning indexer + top-k tokens).

Unknown ``model_type`` values are read as dense or MoE GQA models when the standard fields
are present (with a note saying so), so a new Llama-like model needs no code.  A config
with a feature suanli does not model (Mamba/hybrid layers, other linear attention, an
encoder-decoder, ...) is refused with :class:`~suanli.errors.UnsupportedArchitecture`
naming its ``model_type`` and the field.

Where a model id is looked up: the bundled configs (``suanli/data/models``, provenance in
its ``SOURCES.md``), then ``SUANLI_MODELS_PATH`` and the local Hugging Face cache
(:mod:`suanli.specs.model_files`); a path to a ``config.json`` or a model directory works
too.  Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from suanli.errors import ConfigError, UnknownModel
from suanli.files import parse_json
from suanli.specs.model_files import (MODELS_PATH_ENV, find_local_config, hf_cache_dirs, model_id_from_path,
                                      models_path_dirs, snapshot_config)
from suanli.specs.model_parse import parse_config
from suanli.specs.model_spec import ModelSpec

def _bundled_root() -> Any:
    return resources.files("suanli").joinpath("data").joinpath("models")


@lru_cache(maxsize=1)
def bundled_model_ids() -> tuple[str, ...]:
    """Hugging Face ids (``org/name``) of the configs shipped with suanli."""
    ids = []
    for entry in _bundled_root().iterdir():
        if entry.is_dir() and "__" in entry.name and entry.joinpath("config.json").is_file():
            ids.append(entry.name.replace("__", "/", 1))
    return tuple(sorted(ids))


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _resolve_bundled(name: str) -> str | None:
    ids = bundled_model_ids()
    if name in ids:
        return name
    key = _norm(name)
    for mid in ids:  # full id, case/punctuation-insensitive
        if _norm(mid) == key:
            return mid
    matches = [mid for mid in ids if _norm(mid.split("/", 1)[1]) == key]
    if len(matches) == 1:
        return matches[0]
    return None


@lru_cache(maxsize=64)
def _load_bundled(model_id: str) -> ModelSpec:
    path = _bundled_root().joinpath(model_id.replace("/", "__", 1)).joinpath("config.json")
    return parse_config(json.loads(path.read_text(encoding="utf-8")), model_id=model_id, origin="bundled")


def _load_file(path: Path, text: str, *, model_id: str | None = None, origin: str | None = None) -> ModelSpec:
    if not path.is_file():
        raise UnknownModel(f"model config file not found: {text}")
    try:
        cfg = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{text}: not a readable JSON config ({exc})") from None
    model_id = model_id or model_id_from_path(path)
    try:
        return parse_config(cfg, model_id=model_id, origin=origin or str(path))
    except ConfigError as exc:  # name the file, not just the directory
        raise type(exc)(str(exc).replace(f"{model_id}:", f"{path}:", 1), field=exc.field) from None


def load_config_file(path: str | os.PathLike[str], *, model_id: str | None = None,
                     origin: str | None = None) -> ModelSpec:
    """Parse one ``config.json`` file (``model_id`` defaults to one derived from the path,
    ``origin`` to the path)."""
    p = Path(os.fspath(path))
    return _load_file(p, str(p), model_id=model_id, origin=origin)


def load_model(name: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> ModelSpec:
    """Load a model by bundled id (``Qwen/Qwen3-32B``, ``qwen3-32b``), a ``config.json``
    path, a directory containing one (or an HF-cache ``models--org--name`` folder), or the
    id of a model in ``SUANLI_MODELS_PATH`` or the local Hugging Face cache (see
    :mod:`suanli.specs.model_files`; ``env`` replaces ``os.environ`` there).  The spec's
    ``origin`` says where the config came from."""
    text = os.fspath(name)
    path = Path(text).expanduser()
    if path.is_dir():
        inner = path / "config.json"
        if not inner.is_file() and (path / "snapshots").is_dir():
            inner = snapshot_config(path) or inner
        path = inner
    if path.suffix == ".json" or path.is_file():
        return _load_file(path, text)
    resolved = _resolve_bundled(text)
    if resolved is not None:
        return _load_bundled(resolved)
    local = find_local_config(text, env)
    if local is not None:
        return _load_file(local.path, str(local.path), model_id=local.model_id, origin=local.origin)
    import difflib

    ids = bundled_model_ids()
    close = difflib.get_close_matches(text, ids, n=4, cutoff=0.3)
    close += [m for m in difflib.get_close_matches(text.split("/")[-1], [i.split("/")[1] for i in ids], n=4, cutoff=0.3)
              for m in [next(i for i in ids if i.endswith("/" + m))] if m not in close]
    hint = ", ".join(dict.fromkeys(close)) or ", ".join(ids[:5])
    searched = [str(d) for d in models_path_dirs(env)] + [str(d) for d in hf_cache_dirs(env)]
    raise UnknownModel(f"unknown model {text!r}: not bundled (closest bundled ids: {hint}) and not found in "
                       f"${MODELS_PATH_ENV} or the Hugging Face cache (searched {', '.join(searched)}); "
                       f"pass a path to a Hugging Face config.json or model directory")


__all__ = ["ModelSpec", "bundled_model_ids", "load_config_file", "load_model", "parse_config"]
