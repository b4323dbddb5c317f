"""The import structure of src/tuneprep (docs/architecture.md, "Layers"), checked by parsing imports.

Every ``import``/``from`` of a tuneprep module anywhere in a file counts (top level or inside a
function), because a lazy import still couples the two modules. Three rules:

1. no import cycle between modules;
2. no import cycle between packages (areas: ``io``, ``models``, ``train``, ...);
3. an area imports only areas of a lower layer (LAYERS below, the table of docs/architecture.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Layer of each area (a subpackage or a top-level module of tuneprep). An area may import only
# areas of a strictly lower layer; areas of one layer are peers and do not import each other.
# Keep in step with the table in docs/architecture.md.
LAYERS: dict[str, int] = {
    "errors": 0,
    "version": 0,
    "ui": 0,  # consoles, progress, event log: imports no other tuneprep area
    "urls": 0,  # which locations are URLs (scheme://), the local file of a file:// URL
    "records": 1,
    "ray_cluster": 1,  # connecting to Ray, cluster CPUs, the model-replica actor pool (imports only errors)
    "io": 2,
    "datasets": 3,
    "models": 4,
    "screen_data": 4,  # packaged real data for the screening tests and benchmarks
    "correct": 4,  # typo, glossary and normalisation engines with their edit audit (ops/correct.py wraps them)
    "textsamples": 4,  # packaged real multilingual text (unicode fast path tests and benchmarks)
    "annotate": 5,
    "serve": 5,
    "neardup": 6,  # MinHash / LSH / clusters, semantic neighbours (embeddings from annotate)
    "ops": 7,
    "recipe": 8,
    "engine": 9,
    "train": 9,
    "evaluate": 9,
    "report": 9,
    "api": 10,
    "ablate": 10,  # experiments: recipe variants → train → evaluate → paired differences
    "studio": 10,  # the annotation web app (uses annotate, io)
    "demo": 11,
    "cli": 12,
    "__init__": 13,  # the package facade `import tuneprep as tp`
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, module: str, is_package: bool) -> set[str]:
    """tuneprep modules imported by one file (resolving relative imports and ``from pkg import mod``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "tuneprep")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            if base.split(".")[0] != "tuneprep":
                continue
            if base != "tuneprep":  # `from tuneprep import api`: the root runs on any import anyway
                found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the tuneprep modules it imports (names that are not modules are dropped)."""
    files = {module_name(p, root): p for p in sorted((root / "tuneprep").rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        targets = set()
        for name in imports_of(path, mod, path.name == "__init__.py"):
            # `from tuneprep.x import y`: y is a module or a name inside x
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != mod and name != "tuneprep" or mod != "tuneprep" and name == "tuneprep":
                targets.add(name)
        graph[mod] = targets
    return graph


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def area_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for mod, targets in graph.items():
        out.setdefault(area(mod), set()).update(area(t) for t in targets if area(t) != area(mod))
    return out


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, targets in sorted(graph.items()):
        a = area(mod)
        for t in sorted(targets):
            b = area(t)
            if a == b:
                continue
            if a not in LAYERS or b not in LAYERS:
                bad.append(f"{mod} -> {t}: area {a if a not in LAYERS else b!r} has no layer (add it to "
                           "LAYERS here and to docs/architecture.md)")
            elif LAYERS[b] >= LAYERS[a]:
                bad.append(f"{mod} -> {t}: {a} (layer {LAYERS[a]}) may not import {b} (layer {LAYERS[b]})")
    return bad


def check(root: Path) -> list[str]:
    graph = import_graph(root)
    problems = layer_violations(graph)
    if c := find_cycle(graph):
        problems.append("module import cycle: " + " -> ".join(c))
    if c := find_cycle(area_graph(graph)):
        problems.append("package import cycle: " + " -> ".join(c))
    return problems


def test_tuneprep_imports_follow_the_layers():
    problems = check(SRC)
    assert not problems, "\n".join(problems)


def test_every_area_has_a_layer():
    areas = {area(m) for m in import_graph(SRC)}
    assert areas <= set(LAYERS), f"areas without a layer: {sorted(areas - set(LAYERS))}"


def _fake_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"tuneprep/__init__.py": "", **files}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_detects_an_import_against_the_layers(tmp_path):
    root = _fake_tree(tmp_path, {
        "tuneprep/models/__init__.py": "",
        "tuneprep/models/registry.py": "from tuneprep.train.rundir import load_run\n",
        "tuneprep/train/__init__.py": "",
        "tuneprep/train/rundir.py": "X = 1\n",
    })
    problems = check(root)
    assert any("models.registry -> tuneprep.train.rundir" in p and "may not import train" in p
               for p in problems), problems


def test_detects_a_lazy_import_against_the_layers(tmp_path):
    root = _fake_tree(tmp_path, {
        "tuneprep/io/__init__.py": "",
        "tuneprep/io/readers.py": "def f():\n    from tuneprep.engine import local\n",
        "tuneprep/engine/__init__.py": "",
        "tuneprep/engine/local.py": "",
    })
    assert any("io.readers -> tuneprep.engine.local" in p for p in check(root))


@pytest.mark.parametrize("files, kind", [
    ({"tuneprep/evaluate/__init__.py": "", "tuneprep/evaluate/a.py": "from . import b\n",
      "tuneprep/evaluate/b.py": "from tuneprep.evaluate.a import x\n"}, "module import cycle"),
    ({"tuneprep/evaluate/__init__.py": "", "tuneprep/evaluate/a.py": "import tuneprep.report.b\n",
      "tuneprep/report/__init__.py": "", "tuneprep/report/b.py": "from tuneprep.evaluate import c\n",
      "tuneprep/evaluate/c.py": ""}, "package import cycle"),
])
def test_detects_cycles(tmp_path, files, kind):
    assert any(p.startswith(kind) for p in check(_fake_tree(tmp_path, files)))
