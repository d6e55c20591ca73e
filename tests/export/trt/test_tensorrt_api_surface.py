"""Every TensorRT name our code uses on a release's code path exists in that release (issue 17, items 5, 6).

The real Python API of 8.6.1, 10.0.1, 10.3.0, 10.13.3.9, 11.0.0.114 and 11.4.0.106 is recorded in
../shared/data/tensorrt_api (see tensorrt_surfaces.py). Our TensorRT modules are read as syntax
trees: each `trt.X` / `trt.X.Y` and each member used on a TensorRT object (`config.set_flag`,
`layer.precision`, `registry.get_creator`, ...) is checked against each release, under the
conditions that guard it in the code (`hasattr(trt.X, "Y")`, `parse_version(trt.__version__) <
(10, 0)`, the weakly typed path, early `raise`s). A name a future TensorRT drops fails here, not on
a robot. The fake TensorRT modules are also checked against the same surfaces.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_tensorrt import make_fake_tensorrt
from tensorrt_surfaces import RELEASES, Surface, load_surface

from centerpose_core.export.tensorrt.versions import parse_version

ROOT = Path(__file__).resolve().parents[3]
MODULES = [
    "centerpose_core/export/tensorrt/build.py",
    "centerpose_core/export/tensorrt/calibrator.py",
    "centerpose_core/export/tensorrt/versions.py",
    "centerpose_core/runtime/tensorrt_backend.py",
    "centerpose_core/runtime/torch2trt_backend.py",
]
# The variables our TensorRT modules hold TensorRT objects in, and the real class of each.
RECEIVERS = {
    "config": "IBuilderConfig",
    "builder": "Builder",
    "network": "INetworkDefinition",
    "ctx.network": "INetworkDefinition",
    "parser": "OnnxParser",
    "profile": "IOptimizationProfile",
    "layer": "ILayer",
    "input_tensor": "ITensor",
    "registry": "IPluginRegistry",
    "trt.get_plugin_registry()": "IPluginRegistry",
    "creator": "IPluginCreator",
    "self.runtime": "Runtime",
    "self.engine": "ICudaEngine",
    "self.context": "IExecutionContext",
}

Predicate = Callable[[Surface], bool]


def _always(surface: Surface) -> bool:
    return True


def _weakly_typed(surface: Surface) -> bool:  # tensorrt.versions.weak_typing: the FP16 flag exists
    return surface.has("BuilderFlag.FP16")


def _has_calibrator(surface: Surface) -> bool:  # tensorrt.versions.has_int8_calibrator
    return (
        _weakly_typed(surface) and surface.has("IInt8EntropyCalibrator2") and surface.has("BuilderFlag.INT8")
    )


# Functions reached only on a guarded path, and that path; every call site is checked to hold it.
FUNCTION_PATHS: dict[str, Predicate] = {
    "pin_fp32_layers": _weakly_typed,
    "make_entropy_calibrator": _has_calibrator,
}


def _version_compare(node: ast.Compare) -> Predicate | None:
    """`parse_version(trt.__version__) <op> (M, m)` as a predicate on a release."""
    left = node.left
    if not (isinstance(left, ast.Call) and getattr(left.func, "id", "") == "parse_version"):
        return None
    if ast.unparse(left.args[0]) != "trt.__version__" or len(node.ops) != 1:
        return None
    bound = ast.literal_eval(node.comparators[0])
    ops = {ast.Lt: tuple.__lt__, ast.GtE: tuple.__ge__, ast.Gt: tuple.__gt__, ast.LtE: tuple.__le__}
    compare = ops[type(node.ops[0])]
    return lambda s: compare(parse_version(s.version), bound)


def condition(node: ast.expr) -> Predicate | None:
    """What an `if` test says about the release (None: nothing we can read, both branches run)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = condition(node.operand)
        return None if inner is None else (lambda s: not inner(s))
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        parts = [p for p in (condition(v) for v in node.values) if p is not None]
        return (lambda s: all(p(s) for p in parts)) if parts else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "hasattr" and ast.unparse(node.args[0]).startswith("trt"):
            owner = ast.unparse(node.args[0]).removeprefix("trt").lstrip(".")
            dotted = f"{owner}.{node.args[1].value}" if owner else node.args[1].value
            return lambda s: s.has(dotted)
        if node.func.id == "weak_typing":
            return _weakly_typed
        if node.func.id == "has_int8_calibrator":
            return _has_calibrator
    if isinstance(node, ast.Name) and node.id == "weak":  # weak = weak_typing(trt)
        return _weakly_typed
    if isinstance(node, ast.Compare):
        return _version_compare(node)
    return None


def _exits(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Raise, ast.Return))


class Uses(ast.NodeVisitor):
    """TensorRT names used, each with the predicate of the path it is on."""

    def __init__(self) -> None:
        self.uses: list[tuple[str, Predicate, int]] = []
        self.calls: list[tuple[str, Predicate, int]] = []
        self.path: Predicate = _always

    def _under(self, predicate: Predicate | None, nodes) -> None:
        outer = self.path
        if predicate is not None:
            self.path = lambda s, p=predicate, o=outer: o(s) and p(s)
        for node in nodes if isinstance(nodes, list) else [nodes]:
            self.visit(node)
        self.path = outer

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer = self.path
        if node.name in FUNCTION_PATHS:
            self.path = FUNCTION_PATHS[node.name]
        self._statements(node.body)
        self.path = outer

    def _statements(self, body: list[ast.stmt]) -> None:
        outer = self.path
        for statement in body:
            self.visit(statement)
            if isinstance(statement, ast.If) and not statement.orelse and _exits(statement.body):
                test = condition(statement.test)
                if test is not None:  # code after `if <c>: raise` runs only where <c> is false
                    prior = self.path
                    self.path = lambda s, t=test, o=prior: o(s) and not t(s)
        self.path = outer

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        test = condition(node.test)
        outer = self.path
        self.path = outer if test is None else (lambda s, t=test, o=outer: o(s) and t(s))
        self._statements(node.body)
        self.path = outer if test is None else (lambda s, t=test, o=outer: o(s) and not t(s))
        self._statements(node.orelse)
        self.path = outer

    def visit_IfExp(self, node: ast.IfExp) -> None:
        test = condition(node.test)
        self.visit(node.test)
        self._under(test, node.body)
        self._under(None if test is None else (lambda s: not test(s)), node.orelse)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in FUNCTION_PATHS:
            self.calls.append((node.func.id, self.path, node.lineno))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        receiver = ast.unparse(node.value)
        if not node.attr.startswith("__"):
            if receiver in RECEIVERS:
                self.uses.append((f"{RECEIVERS[receiver]}.{node.attr}", self.path, node.lineno))
            elif receiver == "trt":
                self.uses.append((node.attr, self.path, node.lineno))
            elif receiver.startswith("trt.") and receiver[4:].isidentifier():
                self.uses.append((f"{receiver[4:]}.{node.attr}", self.path, node.lineno))
        self.generic_visit(node)


def _scan(module: str) -> Uses:
    uses = Uses()
    uses._statements(ast.parse((ROOT / module).read_text()).body)
    return uses


@pytest.mark.parametrize("release", RELEASES)
def test_every_tensorrt_name_on_a_release_path_exists_in_that_release(release):
    surface = load_surface(release)
    missing = [
        f"{module}:{line}: {name}"
        for module in MODULES
        for name, path, line in _scan(module).uses
        if path(surface) and not surface.has(name)
    ]
    assert not missing, f"TensorRT {release} lacks: " + "; ".join(missing)


@pytest.mark.parametrize("release", RELEASES)
def test_guarded_functions_are_only_called_on_their_path(release):
    surface = load_surface(release)
    for module in MODULES:
        for name, path, line in _scan(module).calls:
            assert not path(surface) or FUNCTION_PATHS[name](surface), f"{module}:{line} calls {name}"


def test_the_scan_sees_the_guards():
    """The scan reads the code's version branches: without them 8.6 would lack STRONGLY_TYPED and 11
    EXPLICIT_BATCH, the precision setters and the calibrator."""
    uses = _scan("centerpose_core/export/tensorrt/build.py").uses
    names = {name for name, _, _ in uses}
    assert {
        "NetworkDefinitionCreationFlag.EXPLICIT_BATCH",
        "ILayer.precision",
        "IInt8EntropyCalibrator2",
    } <= (names | {name for name, _, _ in _scan("centerpose_core/export/tensorrt/calibrator.py").uses})
    on_11 = load_surface("11.4.0.106")
    guarded = [name for name, path, _ in uses if not path(on_11)]
    assert {"NetworkDefinitionCreationFlag.EXPLICIT_BATCH", "ILayer.precision", "BuilderFlag.FP16"} <= set(
        guarded
    )
    assert not on_11.has("NetworkDefinitionCreationFlag.EXPLICIT_BATCH") and not on_11.has("ILayer.precision")


@pytest.mark.parametrize("release", RELEASES)
def test_the_fake_tensorrt_has_only_real_names(release):
    surface = load_surface(release)
    trt, _ = make_fake_tensorrt(release)
    module_names = {
        name for name in vars(trt) if not name.startswith("_") and name != "init_libnvinfer_plugins"
    }
    assert module_names - {"init_libnvinfer_plugins"} <= surface.module
    assert trt.init_libnvinfer_plugins and "init_libnvinfer_plugins" in surface.module
    for real, fake in trt._fake_classes.items():
        own = {name for name in vars(fake) if not name.startswith("_") and name != "flag_enum"}
        assert own <= surface.classes.get(real, frozenset()), (
            real,
            own - surface.classes.get(real, frozenset()),
        )
    for enum_name in ("BuilderFlag", "NetworkDefinitionCreationFlag", "LayerType", "MemoryPoolType"):
        assert {name: m.value for name, m in getattr(trt, enum_name).__members__.items()} == surface.enums[
            enum_name
        ]


@pytest.mark.parametrize(
    ("release", "present", "absent"),
    [  # the eight places the old fake disagreed with the real bindings (issue 17, item 6)
        (
            "8.6.1",
            {"LayerType.PLUGIN", "NetworkDefinitionCreationFlag.EXPLICIT_BATCH"},
            {"int64", "BuilderFlag.BF16", "LayerType.PLUGIN_V3"},
        ),
        ("10.3.0", {"int64", "BuilderFlag.BF16", "LayerType.PLUGIN", "LayerType.PLUGIN_V3"}, set()),
        (
            "11.0.0.114",
            {"LayerType.PLUGIN", "NetworkDefinitionCreationFlag.STRONGLY_TYPED"},
            {"NetworkDefinitionCreationFlag.EXPLICIT_BATCH", "ILayer.precision", "ILayer.set_output_type"},
        ),
    ],
)
def test_the_fake_follows_the_real_differences(release, present, absent):
    trt, _ = make_fake_tensorrt(release)

    def has(dotted: str) -> bool:
        owner, _, member = dotted.partition(".")
        if owner == "ILayer":
            return hasattr(trt._fake_classes["ILayer"], member)
        return hasattr(getattr(trt, owner, None), member) if member else hasattr(trt, owner)

    assert all(has(name) for name in present), [n for n in present if not has(n)]
    assert not any(has(name) for name in absent), [n for n in absent if has(n)]
    if release.startswith("11"):
        assert int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) == 0
        config = trt.Builder(None).create_builder_config()
        assert isinstance(config.flags, int) and config.flags == 1 << int(trt.BuilderFlag.TF32)
