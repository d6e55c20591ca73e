"""Running a ready TensorRT engine needs TensorRT alone (issue 17, item 7).

A Jetson has TensorRT from JetPack but often no `onnx` package; `backend: auto` picks TensorRT
there, so the backend module must import without `onnx`. Checked in a fresh interpreter where
every `import onnx` fails, as it does when the package is not installed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# An import hook that makes `onnx` (and its submodules) unimportable, then imports each module.
_WITHOUT_ONNX = """
import importlib, importlib.abc, sys

class NoOnnx(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "onnx" or name.startswith("onnx."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoOnnx())
for module in sys.argv[1:]:
    importlib.import_module(module)
loaded = sorted(m for m in sys.modules if m == "onnx" or m.startswith("onnx."))
assert not loaded, loaded
print("imported")
"""


def _import_without_onnx(*modules: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_ONNX, *modules], capture_output=True, text=True, timeout=120
    )


def test_the_blocker_really_blocks_onnx():
    result = _import_without_onnx("onnx")
    assert result.returncode != 0 and "No module named 'onnx'" in result.stderr


@pytest.mark.parametrize(
    "module",
    [
        "centerpose_core.runtime.tensorrt_backend",  # the engine runner `backend: tensorrt/auto` loads
        "centerpose_core.export.tensorrt.build",  # import_tensorrt, require_cuda, the engine cache
    ],
)
def test_tensorrt_modules_import_without_onnx(module):
    result = _import_without_onnx(module)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "imported" in result.stdout
