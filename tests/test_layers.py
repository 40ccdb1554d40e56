"""The layer rule of DESIGN.md, enforced on the source with an AST walk.

    specs -> perf / econ / market -> app -> cli / web (/ viz)

* ``errors`` imports nothing from suanli; ``files`` (atomic output files, private
  directories, JSON from users' files) only stdlib and ``suanli.errors``; ``specs`` only
  stdlib, numpy, ``suanli.errors``, ``suanli.files`` and itself.
* ``perf`` and ``econ``: stdlib, numpy, ``suanli.errors``, ``suanli.specs`` and their own
  layer; never each other; no file reads (``open``, pathlib, importlib.resources), no
  environment (``os``), no clock (``time``, ``datetime.now``/``today``).
* ``market`` never imports ``perf`` (nor anything below it: app, interfaces).
* ``app`` may import everything except the interfaces.
* interfaces (``cli``, ``web``, ``viz``) reach ``perf``/``econ`` only through ``app``.

Every import counts, including function-local and ``TYPE_CHECKING`` ones: a lazy import is
still a dependency.  The package root (``suanli/__init__.py``, ``__main__.py``) is the
public facade and is exempt.  The checker itself is tested on synthetic sources below, so a
clean result means something.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import suanli

SRC = Path(suanli.__file__).resolve().parent
STDLIB = frozenset(sys.stdlib_module_names)

INTERFACES = frozenset({"cli", "web", "viz"})
LAYERS = frozenset({"errors", "files", "specs", "perf", "econ", "market", "app"}) | INTERFACES

# layer -> suanli layers it may import (None: any, subject to FORBIDDEN)
ALLOWED_SUANLI: dict[str, frozenset[str] | None] = {
    "errors": frozenset({"errors"}),
    "files": frozenset({"errors", "files"}),
    "specs": frozenset({"errors", "files", "specs"}),
    "perf": frozenset({"errors", "specs", "perf"}),
    "econ": frozenset({"errors", "specs", "econ"}),
    "market": None, "app": None, "cli": None, "web": None, "viz": None,
}
FORBIDDEN_SUANLI: dict[str, frozenset[str]] = {
    "market": frozenset({"perf", "app"}) | INTERFACES,
    "app": INTERFACES,
    **{name: frozenset({"perf", "econ"}) for name in INTERFACES},
}
# layer -> third-party top-level packages allowed (None: any)
ALLOWED_THIRD_PARTY: dict[str, frozenset[str] | None] = {
    "errors": frozenset(), "files": frozenset(), "specs": frozenset({"numpy"}), "perf": frozenset({"numpy"}),
    "econ": frozenset({"numpy"}),
}
PURE = frozenset({"perf", "econ"})
# stdlib modules a pure layer may not import: files, environment, clock, processes, network
PURE_FORBIDDEN_MODULES = frozenset({
    "os", "pathlib", "importlib.resources", "io", "glob", "shutil", "tempfile", "sqlite3",
    "time", "subprocess", "socket", "urllib", "http", "fileinput", "csv", "pickle", "shelve",
})
CLOCK_CALLS = frozenset({"now", "today", "utcnow", "fromtimestamp", "utcfromtimestamp"})
FILE_CALLS = frozenset({"read_text", "read_bytes", "write_text", "write_bytes", "open", "iterdir",
                        "glob", "rglob", "loadtxt", "genfromtxt", "fromfile", "tofile", "memmap"})
ENV_ATTRS = frozenset({"environ", "getenv", "putenv", "environb"})
BUILTIN_IO = frozenset({"open", "input"})


@dataclass(frozen=True)
class Violation:
    where: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.message}"


def module_name(path: Path, root: Path = SRC) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    """'suanli.perf.step' -> 'perf'; 'suanli.errors' -> 'errors'; 'suanli' -> 'root'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "root"


def imports_of(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of everything a module imports.  ``from pkg import x``
    yields ``pkg.x`` (x may be a submodule), relative imports are resolved."""
    out: list[tuple[int, str]] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                out.append((node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base))
    return out


def check_source(source: str, module: str, *, is_package: bool = False) -> list[Violation]:
    """All layer-rule violations of one module's source."""
    tree = ast.parse(source)
    layer = layer_of(module)
    found: list[Violation] = []

    def flag(line: int, message: str) -> None:
        found.append(Violation(module, line, message))

    for line, name in imports_of(tree, module, is_package):
        top = name.split(".")[0]
        if top == "suanli":
            target = layer_of(name)
            if target == "root" or (name.count(".") == 1 and target not in LAYERS):
                # `import suanli` / `from suanli import predict`: goes through the facade
                if layer in ALLOWED_SUANLI and ALLOWED_SUANLI[layer] is not None:
                    flag(line, f"{layer} imports the package facade ({name}); import the layer module")
                continue
            allowed = ALLOWED_SUANLI.get(layer)
            if allowed is not None and target not in allowed:
                flag(line, f"{layer} may not import {name} (layer {target})")
            if target in FORBIDDEN_SUANLI.get(layer, frozenset()):
                flag(line, f"{layer} may not import {name} (layer {target})")
        elif top in STDLIB or top == "__future__":
            if layer in PURE:
                for banned in PURE_FORBIDDEN_MODULES:
                    if name == banned or name.startswith(banned + "."):
                        flag(line, f"{layer} is pure: no {banned} (files, environment, clock)")
        else:
            allowed3 = ALLOWED_THIRD_PARTY.get(layer)
            if allowed3 is not None and top not in allowed3:
                flag(line, f"{layer} may not depend on third-party {top!r}")

    if layer in PURE:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in BUILTIN_IO:
                    flag(node.lineno, f"{layer} is pure: {func.id}() reads outside input")
                elif isinstance(func, ast.Attribute):
                    if func.attr in CLOCK_CALLS:
                        flag(node.lineno, f"{layer} is pure: .{func.attr}() reads the clock")
                    elif func.attr in FILE_CALLS:
                        flag(node.lineno, f"{layer} is pure: .{func.attr}() touches files")
                    elif func.attr in {"load", "save", "savez"} and isinstance(func.value, ast.Name) \
                            and func.value.id in {"np", "numpy"}:
                        flag(node.lineno, f"{layer} is pure: numpy.{func.attr}() touches files")
            elif isinstance(node, ast.Attribute) and node.attr in ENV_ATTRS:
                flag(node.lineno, f"{layer} is pure: .{node.attr} reads the environment")
    return found


def source_files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "data" not in p.relative_to(SRC).parts)


def layered_files() -> list[Path]:
    """Every module except the package facade (suanli/__init__.py, suanli/__main__.py)."""
    return [p for p in source_files() if layer_of(module_name(p)) not in {"root", "__main__"}]


# --- the rule on the real source --------------------------------------------------------

def test_every_subpackage_has_a_layer() -> None:
    # a new top-level module or subpackage needs a decision on where it sits
    names = {module_name(p).split(".")[1] for p in source_files() if module_name(p) != "suanli"}
    unknown = names - LAYERS - {"__main__"}
    assert not unknown, f"no layer rule for: {sorted(unknown)} (add them to tests/test_layers.py)"


def test_core_layers_exist() -> None:
    for layer in ("specs", "perf", "app"):
        assert (SRC / layer / "__init__.py").is_file()


@pytest.mark.parametrize("path", layered_files(), ids=lambda p: module_name(p))
def test_module_respects_the_layer_rule(path: Path) -> None:
    module = module_name(path)
    problems = check_source(path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py")
    assert not problems, "\n".join(str(p) for p in problems)


def test_core_import_stays_light() -> None:
    # the performance core must not drag in interface or storage dependencies
    heavy = ["typer", "rich", "pandas", "fastapi", "sqlalchemy", "click", "matplotlib", "uvicorn"]
    code = ("import sys, json; import suanli.perf.serving; "
            f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=True)
    assert json.loads(done.stdout) == []


def test_bare_package_import_loads_no_third_party_code() -> None:
    # `import suanli` (CLI start-up) resolves the public API lazily
    code = ("import sys, json; before = set(sys.modules); import suanli; "
            "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=True)
    loaded = set(json.loads(done.stdout))
    assert loaded - set(STDLIB) - {"suanli"} == set()


# --- the checker finds what it should ----------------------------------------------------

def messages(source: str, module: str) -> list[str]:
    return [v.message for v in check_source(source, module)]


@pytest.mark.parametrize(("module", "source", "needle"), [
    ("suanli.specs.x", "from suanli.perf.step import step_time", "may not import suanli.perf"),
    ("suanli.specs.x", "import pandas", "third-party 'pandas'"),
    ("suanli.errors", "from suanli.specs import model", "may not import suanli.specs"),
    ("suanli.perf.x", "from suanli.econ.money import Money", "may not import suanli.econ"),
    ("suanli.econ.x", "from suanli.perf import step", "may not import suanli.perf"),
    ("suanli.perf.x", "from suanli.app.predict import predict", "may not import suanli.app"),
    ("suanli.perf.x", "from suanli import predict", "package facade"),
    ("suanli.perf.x", "import os\nx = os.environ.get('A')", "no os"),
    ("suanli.perf.x", "from os import environ", "no os"),
    ("suanli.perf.x", "def f(e):\n    return e.environ['A']", "environment"),
    ("suanli.perf.x", "data = open('f.csv').read()", "open()"),
    ("suanli.perf.x", "from pathlib import Path", "no pathlib"),
    ("suanli.perf.x", "def f(p):\n    return p.read_text()", "touches files"),
    ("suanli.perf.x", "from importlib.resources import files", "no importlib.resources"),
    ("suanli.perf.x", "import numpy as np\nx = np.loadtxt('a')", "touches files"),
    ("suanli.perf.x", "import numpy as np\nx = np.load('a.npy')", "numpy.load"),
    ("suanli.perf.x", "import time\nt = time.time()", "no time"),
    ("suanli.econ.x", "from datetime import date\nd = date.today()", "clock"),
    ("suanli.econ.x", "import datetime\nd = datetime.datetime.now()", "clock"),
    ("suanli.perf.x", "import scipy", "third-party 'scipy'"),
    ("suanli.market.x", "from suanli.perf.serving import predict_serving", "may not import suanli.perf"),
    ("suanli.app.x", "from suanli.cli.main import main", "may not import suanli.cli"),
    ("suanli.cli.x", "from suanli.perf.memory import weights_per_gpu", "may not import suanli.perf"),
    ("suanli.web.x", "from suanli.econ import tco", "may not import suanli.econ"),
    ("suanli.perf.x", "from . import comm\nfrom ..app import predict", "may not import suanli.app"),
    ("suanli.perf.x", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from suanli.app import predict",
     "may not import suanli.app"),
    ("suanli.perf.x", "def f():\n    from suanli.market import db", "may not import suanli.market"),
])
def test_checker_flags(module: str, source: str, needle: str) -> None:
    found = messages(source, module)
    assert any(needle in m for m in found), found


@pytest.mark.parametrize(("module", "source"), [
    ("suanli.specs.x", "import json, os\nfrom pathlib import Path\nfrom suanli.errors import ConfigError"),
    ("suanli.specs.x", "import numpy as np\nfrom suanli.specs.dtypes import DType"),
    ("suanli.perf.x", "import math\nimport numpy as np\nfrom suanli.specs.model import ModelSpec\n"
                      "from suanli.perf import comm\nfrom . import memory\nfrom suanli import errors"),
    ("suanli.econ.x", "from datetime import date\nfrom decimal import Decimal\nd = date(2025, 1, 1)"),
    ("suanli.market.x", "import sqlite3\nfrom suanli.econ import money\nfrom suanli.specs import model"),
    ("suanli.app.x", "from suanli.perf.serving import predict_serving\nfrom suanli.market import db"),
    ("suanli.cli.x", "import typer\nfrom suanli.app.predict import predict\nfrom suanli.specs import model\n"
                     "from suanli.errors import SuanliError"),
])
def test_checker_accepts(module: str, source: str) -> None:
    assert messages(source, module) == []
