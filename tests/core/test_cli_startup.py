"""`centerpose --help` stays instant: the CLI imports only the chosen command, never torch for help.

Checked by the modules a fresh interpreter has loaded (no timing assertion: a busy machine would
make one flaky); benchmarks are the place for seconds (README: `time centerpose --help`).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from centerpose_core.cli import COMMANDS

HEAVY = ("torch", "numpy", "cv2", "onnx", "onnxruntime", "tensorrt", "scipy", "pycocotools")

PROBE = """
import sys
from centerpose_core.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert exit.code == 0, exit.code
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _loaded_after(*argv: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, check=True
    )
    assert "usage: centerpose" in result.stdout
    return set(result.stdout.splitlines()[-1].split())


def test_top_level_help_imports_nothing_heavy():
    assert not _loaded_after("--help") & set(HEAVY)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_never_imports_torch(command):
    loaded = _loaded_after(command, "--help")
    assert "torch" not in loaded and "onnx" not in loaded and "onnxruntime" not in loaded


def test_every_command_module_registers_and_runs():
    import importlib

    for name in COMMANDS:
        module = importlib.import_module(f"centerpose_core.commands.{name}")
        assert callable(module.add_arguments) and callable(module.run), name
