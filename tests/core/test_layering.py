"""The package layering of centerpose_core, read from the source (every import, lazy ones included).

Layers, lowest first: shared modules (constants, affine, flip, decode, model_formats, ...) <- model
<- export <- runtime <- data / train / tracking / geometry <- commands <- cli. Export may use the
model; the runtime may use export artifacts; never the other way round, and nothing in the core
imports ROS. A cycle between two packages (as runtime <-> export once was) fails here by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "centerpose_core"

# package -> packages it must never import (directly or lazily inside a function)
FORBIDDEN = {
    "model": ("export", "runtime", "data", "train", "commands", "cli"),
    "export": ("runtime", "data", "train", "commands", "cli"),
    "runtime": ("data", "train", "commands", "cli"),
    "commands": ("cli",),
}
ROS_MODULES = ("rclpy", "centerpose_ros", "sensor_msgs", "std_msgs", "centerpose_msgs")


def _module_names() -> dict[str, Path]:
    names = {}
    for path in CORE.rglob("*.py"):
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = _module_names()


def _imports(module: str) -> set[str]:
    """Every module named by an import statement anywhere in `module` (resolved to known modules)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: drop (level - 1) trailing parts of the package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base]).strip(".")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return found


def _layer(module: str) -> str:
    """'centerpose_core.runtime.predictor' -> 'runtime'; top-level modules are their own layer."""
    return module.split(".")[1] if module.count(".") >= 1 else module


GRAPH = {module: {m for m in _imports(module) if m in MODULES} for module in MODULES}
LAYER_GRAPH: dict[str, set[str]] = {}
for _module, _targets in GRAPH.items():
    if _module != "centerpose_core":
        LAYER_GRAPH.setdefault(_layer(_module), set()).update(
            _layer(t) for t in _targets if t != "centerpose_core" and _layer(t) != _layer(_module)
        )


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_reader_sees_the_real_imports():
    # Guards the AST walk itself: known edges of the current code must be found.
    assert "centerpose_core.export.onnx_checks" in GRAPH["centerpose_core.runtime.tensorrt_backend"]
    assert "centerpose_core.affine" in GRAPH["centerpose_core.export.tensorrt_calibrator"]  # a lazy import
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_packages():
    cycle = _find_cycle(LAYER_GRAPH)
    assert cycle is None, "package import cycle: " + " -> ".join(cycle)


def test_no_import_cycle_between_modules():
    graph = {m: {t for t in targets if t != m and not m.startswith(t + ".")} for m, targets in GRAPH.items()}
    cycle = _find_cycle(graph)
    assert cycle is None, "module import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_never_import_higher_ones(layer):
    offending = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == layer
        for target in targets
        if _layer(target) in FORBIDDEN[layer]
    ]
    assert not offending, "\n".join(offending)


def test_the_core_never_imports_ros():
    offending = [
        f"{module} imports {name}"
        for module in MODULES
        for name in _imports(module)
        if name.split(".")[0] in ROS_MODULES
    ]
    assert not offending, "\n".join(offending)
