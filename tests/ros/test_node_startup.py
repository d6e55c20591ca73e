"""Start-up behaviour of `centerpose-ros` as a real process: clear one-line errors and exit code 2
for a missing / corrupt model or an invalid parameter; `--help`; config/pose.yaml and the README's
parameter table in step with the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ros_helpers import NODE_EXE, PARAMS_FILE, REPO, require_ros

from centerpose_ros.demo.local_dds import loopback_env, pick_domain_id
from centerpose_ros.params import PARAM_SPECS

require_ros()
pytestmark = pytest.mark.ros


def run_node(*params: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    args = [str(NODE_EXE), "--ros-args", "--params-file", str(PARAMS_FILE)]
    for param in params:
        args += ["-p", param]
    return subprocess.run(
        args, env=loopback_env(pick_domain_id()), cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, output
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    assert_one_line_error(run_node(f"model_path:={missing}"), str(missing), "file not found")


def test_corrupt_model_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"this is not a checkpoint" * 10)
    assert_one_line_error(run_node(f"model_path:={corrupt}", "backend:=torch"), str(corrupt))


def test_empty_model_path_names_the_parameter() -> None:
    assert_one_line_error(run_node(), "model_path")


@pytest.mark.parametrize(
    ("assignment", "needles"),
    [
        ("image_reliability:=sometimes", ("image_reliability", "reliable, best_effort")),
        ("score_threshold:=1.5", ("score_threshold", "1.5")),
        ("score_threshold:=2", ("score_threshold", "<= 1.0")),  # an integer: checked by the node itself
        ("tracking_low_score_threshold:=0.9", ("'tracking_low_score_threshold'", "must not exceed")),
        ("depth_window:=4", ("'depth_window'", "odd")),
    ],
)
def test_invalid_parameter_value_names_the_parameter(
    random_checkpoint: Path, assignment: str, needles: tuple[str, ...]
) -> None:
    result = run_node(f"model_path:={random_checkpoint}", "backend:=torch", assignment)
    assert_one_line_error(result, *needles)


def test_help_lists_every_parameter() -> None:
    result = subprocess.run([str(NODE_EXE), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for spec in PARAM_SPECS:
        assert spec.name in result.stdout


def test_params_file_defaults_equal_the_declared_defaults() -> None:
    with open(PARAMS_FILE) as f:
        values = yaml.safe_load(f)["/**"]["ros__parameters"]
    assert values == {spec.name: spec.default for spec in PARAM_SPECS}


def test_depth_sync_message_filters_without_message_filters_names_the_parameter(
    random_checkpoint: Path,
) -> None:
    result = run_node(
        f"model_path:={random_checkpoint}", "backend:=torch", "use_depth:=true", "depth_sync:=message_filters"
    )
    assert_one_line_error(result, "depth_sync", "message_filters", "builtin")


def _yaml_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_readme_parameter_table_lists_every_parameter_with_its_default() -> None:
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Parameters (`config/pose.yaml`") :]
    section = section[: section.index("\n\n", section.index("|---|"))]
    table = {}
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        names_cell, default_cell = (cell.strip() for cell in row.strip("|").split("|")[:2])
        names = re.findall(r"`([^`]+)`", names_cell)
        defaults = [d.strip().strip("`") for d in default_cell.split(",")]
        table.update(zip(names, defaults * len(names) if len(defaults) == 1 else defaults, strict=True))
    assert set(table) == {spec.name for spec in PARAM_SPECS}, "README parameter table vs PARAM_SPECS"
    for spec in PARAM_SPECS:
        expected = "(required)" if spec.name == "model_path" else _yaml_text(spec.default)
        assert table[spec.name] == expected, f"README default of {spec.name}"
