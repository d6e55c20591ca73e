"""The package layering of centerpose_core and centerpose_ros, read from the source (every import,
lazy ones included).

Core layers, lowest first: shared modules (constants, affine, flip, decode, model_formats, ...) <- model
<- export <- runtime <- data / train / tracking / geometry <- commands <- cli. Export may use the
model; the runtime may use export artifacts; never the other way round, and nothing in the core
imports ROS. A cycle between two packages (as runtime <-> export once was) fails here by name.
Subsystem packages (export/tensorrt) are used through their package only.

The ROS layer's four kinds of module and what each may import are stated once, in ROS_ALLOWED.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "centerpose_core"
ROS = REPO / "centerpose_ros"

# package -> packages it must never import (directly or lazily inside a function)
FORBIDDEN = {
    "model": ("export", "runtime", "data", "train", "commands", "cli"),
    "export": ("runtime", "data", "train", "commands", "cli"),
    "runtime": ("data", "train", "commands", "cli"),
    "commands": ("cli",),
}
ROS_MODULES = ("rclpy", "centerpose_ros", "sensor_msgs", "std_msgs", "centerpose_msgs")
# packages whose modules the rest of the code reaches only through the package's own names
SUBSYSTEMS = ("centerpose_core.export.tensorrt",)

# centerpose_ros: kind of module -> the kinds of centerpose_ros module it may import.
# base: parameters, QoS profiles, statistics, the frame mailbox (read by every layer);
# wiring: the nodes, entry point, pipeline and model loading (top level of the package).
ROS_ALLOWED = {
    "conversions": {"conversions"},
    "base": {"base"},
    "steps": {"steps", "conversions", "base"},
    "wiring": {"wiring", "steps", "conversions", "base"},
    "demo": {"demo", "conversions"},
}
ROS_BASE = {"params", "qos", "stats", "latest_frame"}


def _module_names(package: Path) -> dict[str, Path]:
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = _module_names(CORE)
ROS_NODE_MODULES = _module_names(ROS)


def _imports(module: str, modules: dict[str, Path] = MODULES) -> set[str]:
    """Every module named by an import statement anywhere in `module` (resolved to known modules)."""
    path = modules[module]
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
                found.add(submodule if submodule in modules else base)
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
    assert "centerpose_core.affine" in GRAPH["centerpose_core.export.tensorrt.calibrator"]  # a lazy import
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_packages():
    cycle = _find_cycle(LAYER_GRAPH)
    assert cycle is None, "package import cycle: " + " -> ".join(cycle)


def _without_self_and_parents(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if t != m and not m.startswith(t + ".")} for m, targets in graph.items()}


def test_no_import_cycle_between_modules():
    cycle = _find_cycle(_without_self_and_parents(GRAPH))
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


@pytest.mark.parametrize("subsystem", SUBSYSTEMS)
def test_subsystems_are_used_through_their_package(subsystem):
    assert any(m.startswith(subsystem + ".") for m in MODULES), f"{subsystem} has no modules"
    offending = [
        f"{module} imports {target} (import it from {subsystem})"
        for module, targets in GRAPH.items()
        if not (module == subsystem or module.startswith(subsystem + "."))
        for target in targets
        if target.startswith(subsystem + ".")
    ]
    assert not offending, "\n".join(offending)


def _ros_kind(module: str) -> str:
    """'centerpose_ros.steps.depth' -> 'steps'; top-level modules are 'base' or 'wiring'."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ROS_ALLOWED:
        return parts[1]
    return "base" if len(parts) > 1 and parts[1] in ROS_BASE else "wiring"


ROS_GRAPH = {
    module: {m for m in _imports(module, ROS_NODE_MODULES) if m in ROS_NODE_MODULES and m != "centerpose_ros"}
    for module in ROS_NODE_MODULES
}


def test_every_ros_folder_has_a_stated_rule():
    folders = {p.name for p in ROS.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == set(ROS_ALLOWED) - {"base", "wiring"}
    assert all((ROS / f"{name}.py").is_file() for name in ROS_BASE)
    # the reader sees real edges: the pipeline runs the steps, a step converts messages
    assert "centerpose_ros.steps.depth" in ROS_GRAPH["centerpose_ros.pipeline"]
    assert "centerpose_ros.conversions.messages_3d" in ROS_GRAPH["centerpose_ros.steps.depth"]


@pytest.mark.parametrize("kind", sorted(ROS_ALLOWED))
def test_ros_modules_import_only_what_their_kind_may(kind):
    offending = [
        f"{module} ({kind}) imports {target} ({_ros_kind(target)})"
        for module, targets in ROS_GRAPH.items()
        if _ros_kind(module) == kind
        for target in targets
        if _ros_kind(target) not in ROS_ALLOWED[kind]
    ]
    assert not offending, "\n".join(offending)


def test_no_import_cycle_between_ros_modules():
    cycle = _find_cycle(_without_self_and_parents(ROS_GRAPH))
    assert cycle is None, "module import cycle: " + " -> ".join(cycle)
