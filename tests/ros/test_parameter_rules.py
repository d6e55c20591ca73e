"""Cross-parameter rules over DDS: a change that breaks one is refused with its reason, and the node
keeps running (issue 17, item 1), in the plain and the lifecycle node.

The rules that involve two parameters (found in the core configs the parameters build):
DepthLiftConfig `max_range > min_range` and TrackerConfig `low_score_threshold <=
high_score_threshold`. Each is broken from both sides, one parameter at a time, by another process
through the node's standard set_parameters service; the parameters are set one by one, so every
refusal is checked against the node's unchanged values (defaults: depth range [0.1, 10.0] m,
tracking thresholds 0.1 / 0.5). One node process per node kind and one client call per state
(the parameters of one call are applied one after another).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ros_helpers import LIFECYCLE_NODE_EXE, TEST_INPUT_SIZE, Proc, RosSession, require_ros

require_ros()
pytestmark = pytest.mark.ros

# assignment -> the parameters its refusal must name
BROKEN_RULES = {
    "depth_min_range=20.0": ("depth_min_range", "depth_max_range"),  # min above max
    "depth_max_range=0.05": ("depth_min_range", "depth_max_range"),  # max below min
    "depth_max_range=0.1": ("depth_min_range", "depth_max_range"),  # max equal to min
    "tracking_low_score_threshold=0.7": ("tracking_low_score_threshold", "tracking_high_score_threshold"),
    "tracking_high_score_threshold=0.05": ("tracking_low_score_threshold", "tracking_high_score_threshold"),
}
# Then changes that keep the rules (the refusals above changed nothing), and back to the defaults.
KEPT_RULES = (
    "depth_max_range=Infinity",
    "depth_min_range=5.0",
    "tracking_low_score_threshold=0.5",
    "depth_min_range=0.1",
    "depth_max_range=10.0",
    "tracking_low_score_threshold=0.1",
)


def _start(session: RosSession, model: Path, **extra) -> Proc:
    return session.start_node(model, input_size=TEST_INPUT_SIZE, backend="torch", device="cpu", **extra)


def assert_rules_enforced(session: RosSession, node: Proc) -> None:
    report = session.set_params(*BROKEN_RULES, *KEPT_RULES, expect_ok=False)
    for assignment, named in BROKEN_RULES.items():
        line = re.search(rf"^{re.escape(assignment)}: (.*)$", report, re.MULTILINE)
        assert line, report
        assert line.group(1).startswith("REFUSED "), f"{assignment} was accepted:\n{report}"
        assert all(name in line.group(1) for name in named), line.group(1)
    assert report.count(": ok") == len(KEPT_RULES), report
    assert node.popen.poll() is None, node.log()[-3000:]
    assert "Traceback" not in node.log(), node.log()[-3000:]


def test_plain_node_refuses_every_broken_cross_parameter_rule(
    tmp_path: Path, random_checkpoint: Path
) -> None:
    session = RosSession(tmp_path)
    try:
        node = _start(session, random_checkpoint)
        node.wait_for_log(r"\[centerpose\]: ready", timeout=120)
        assert_rules_enforced(session, node)
    finally:
        session.close()


def test_lifecycle_node_refuses_every_broken_cross_parameter_rule_in_every_state(
    tmp_path: Path, random_checkpoint: Path
) -> None:
    session = RosSession(tmp_path)
    try:
        node = _start(session, random_checkpoint, executable=LIFECYCLE_NODE_EXE)
        node.wait_for_log(r"\[centerpose\]: unconfigured", timeout=120)
        client = session.start_lifecycle_client()
        assert_rules_enforced(session, node)  # unconfigured: checked against the declared values
        assert client.change("configure") == (True, "inactive")
        assert_rules_enforced(session, node)  # configured: against the pipeline's values
        assert client.state() == "inactive" and node.popen.poll() is None
    finally:
        session.close()
