"""Real-process ROS 2 helpers: the node, a publisher, a recorder and a lifecycle client as
separate processes.

All of them run with loopback-only Fast DDS on a domain id of their own (centerpose_ros.demo.local_dds),
so parallel runs never cross-talk and no packet leaves the machine.
"""

from __future__ import annotations

import json
import pickle
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from centerpose_ros.demo.local_dds import loopback_env, pick_domain_id


def require_ros() -> None:
    """Skip the calling test module when rclpy or the built centerpose_msgs are missing."""
    try:
        import centerpose_msgs.msg  # noqa: F401
        import rclpy  # noqa: F401
    except ImportError as exc:
        pytest.skip(
            f"ROS 2 (rclpy + centerpose_msgs) not importable ({exc}); run `make ros`", allow_module_level=True
        )


REPO = Path(__file__).resolve().parents[2]
PEER = Path(__file__).resolve().parent / "peer.py"
PYTHON = sys.executable
NODE_EXE = Path(sys.executable).parent / "centerpose-ros"
LIFECYCLE_NODE_EXE = Path(sys.executable).parent / "centerpose-ros-lifecycle"
PARAMS_FILE = REPO / "config" / "pose.yaml"
TEST_INPUT_SIZE = 128  # torch CPU forward of the full model at 128 px: ~0.2 s (512: ~2 s)
# The node settings the pipeline tests run with: a low threshold so seeded weights yield persons.
SCORE_THRESHOLD = 0.05
MAX_PERSONS = 5
# what most node tests start with: small input, low threshold, torch on the CPU (no export at start-up)
TEST_NODE_PARAMS: dict[str, Any] = dict(
    input_size=TEST_INPUT_SIZE,
    score_threshold=SCORE_THRESHOLD,
    max_persons=MAX_PERSONS,
    backend="torch",
    device="cpu",
)
READY_LINE = r"\] \[centerpose\]: ready"


class Proc:
    """A child process whose stdout+stderr go to a log file the test can read while it runs."""

    def __init__(
        self, name: str, cmd: list[str], env: dict[str, str], log_dir: Path, stdin: bool = False
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            cmd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        )

    def send(self, line: str) -> None:
        """Write one line to the process's standard input (started with stdin=True)."""
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log())
            if match:
                return match
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(
            f"{self.name}: {pattern!r} not seen within {timeout} s; log:\n{self.log()[-3000:]}"
        )

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(
                f"{self.name} did not finish within {timeout} s; log:\n{self.log()[-3000:]}"
            ) from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send `sig`, wait, kill if needed; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode


class RosSession:
    """Starts node / publisher / recorder processes on one private loopback domain."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.domain_id = pick_domain_id()
        self.env = loopback_env(self.domain_id)
        self.procs: list[Proc] = []
        self._count = 0

    def _start(self, name: str, cmd: list[str], stdin: bool = False) -> Proc:
        self._count += 1
        proc = Proc(f"{self._count:02d}_{name}", cmd, self.env, self.tmp, stdin=stdin)
        self.procs.append(proc)
        return proc

    def start_node(
        self,
        model_path: Path,
        name: str = "node",
        executable: Path = NODE_EXE,
        ros_args: tuple[str, ...] = (),
        **params: Any,
    ) -> Proc:
        args = [
            str(executable),
            "--ros-args",
            "--params-file",
            str(PARAMS_FILE),
            "-p",
            f"model_path:={model_path}",
        ]
        for key, value in params.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["-p", f"{key}:={text}"]
        return self._start(name, [*args, *ros_args])

    def start_test_node(self, model_path: Path, wait_for: str | None = READY_LINE, **params: Any) -> Proc:
        """A node with the suite's standard parameters (`TEST_NODE_PARAMS`; `params` override or add),
        waited for until its log shows `wait_for` (the plain node's ready line by default)."""
        node = self.start_node(model_path, **(TEST_NODE_PARAMS | params))
        if wait_for is not None:
            node.wait_for_log(wait_for, timeout=120)
        return node

    def start_lifecycle_client(self, node: str = "/centerpose") -> LifecycleClient:
        """A client process for `node`'s ~/change_state and ~/get_state services, ready to use."""
        proc = self._start("lifecycle_client", [PYTHON, str(PEER), "lifecycle", node], stdin=True)
        proc.wait_for_log("LIFECYCLE CLIENT READY", timeout=60)
        return LifecycleClient(proc)

    def start_recorder(
        self,
        name: str = "recorder",
        topics: str = "detections,markers,diagnostics",
        durability: str = "volatile",
    ) -> tuple[Proc, Path]:
        out = self.tmp / f"{name}_{self._count + 1:02d}.jsonl"
        proc = self._start(
            name, [PYTHON, str(PEER), "record", str(out), "--topics", topics, "--qos-durability", durability]
        )
        return proc, out

    def start_ready_recorder(
        self, name: str = "recorder", topics: str = "detections,markers,diagnostics"
    ) -> tuple[Proc, Path]:
        """`start_recorder`, returned once its subscriptions exist (nothing published later is missed)."""
        proc, out = self.start_recorder(name, topics)
        proc.wait_for_log("RECORDER READY", timeout=60)
        return proc, out

    def publish(
        self, plan: list[dict[str, Any]], *extra: str, name: str = "publisher", timeout: float = 120.0
    ) -> Proc:
        """Run a publisher for `plan` to completion and check it succeeded."""
        proc = self.start_publisher(plan, *extra, name=name)
        rc = proc.wait(timeout)
        assert rc == 0, f"publisher exited with {rc}:\n{proc.log()[-3000:]}"
        return proc

    def start_publisher(self, plan: list[dict[str, Any]], *extra: str, name: str = "publisher") -> Proc:
        plan_path = self.tmp / f"plan_{self._count + 1:02d}.pkl"
        with open(plan_path, "wb") as f:
            pickle.dump(plan, f)
        return self._start(name, [PYTHON, str(PEER), "publish", str(plan_path), *extra])

    def set_params(self, *assignments: str, expect_ok: bool = True) -> str:
        """Set parameters of the running node through its parameter service; returns the per-item report."""
        proc = self._start("set_param", [PYTHON, str(PEER), "set-param", "/centerpose", *assignments])
        rc = proc.wait(60)
        if expect_ok:
            assert rc == 0, f"set-param failed ({rc}):\n{proc.log()}"
        return proc.log()

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(signal.SIGTERM, timeout=20.0 if "node" in proc.name else 5.0)


class LifecycleClient:
    """Drives a lifecycle node from a separate process (peer.py lifecycle), one command at a time."""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc
        self._sent = 0

    def change(self, transition: str, timeout: float = 120.0) -> tuple[bool, str]:
        """Request `transition` (configure, activate, deactivate, cleanup, shutdown) by label;
        returns (success, state label afterwards)."""
        self._sent += 1
        self.proc.send(transition)
        match = self.proc.wait_for_log(rf"RESULT {self._sent} {transition} (ok|FAILED) (\w+)", timeout)
        return match.group(1) == "ok", match.group(2)

    def state(self) -> str:
        return self.change("get", timeout=30.0)[1]


@dataclass(frozen=True)
class Memory:
    """Resident memory of a process in MB (Linux /proc): all, anonymous (heap, tensors), file-backed
    (library code and mapped files, which stay once paged in)."""

    rss: float
    anon: float
    file: float

    def __str__(self) -> str:
        return f"{self.rss:.0f} (anon {self.anon:.0f}, file {self.file:.0f})"


def memory_mb(pid: int) -> Memory:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024.0
    return Memory(fields["VmRSS"], fields["RssAnon"], fields["RssFile"])


def assert_matches_predictor(
    record: dict[str, Any],
    predictor: Any,
    image: np.ndarray,
    *,
    threshold: float,
    max_persons: int,
) -> None:
    """A recorded PersonPoseArray equals `predictor`'s persons on `image`, tie-aware.

    The node and this process run the same model on the same pixels, but in different processes
    (threads, possibly thread counts), so the comparison must not hinge on float rounding: each
    person and joint is compared where decode's decisions are clear of it (tests/decode_margins.py),
    and the fixture must have every compared person clear and no candidate at the threshold.
    """
    from decode_margins import SCORE_MARGIN, assert_same_persons, clear_decisions

    from centerpose_core.types import Person

    expected = predictor.predict(image, threshold=threshold, max_persons=max_persons)
    candidates = predictor.predict(image, threshold=0.0, max_persons=max_persons + 1)
    at_threshold = [p.score for p in candidates if threshold > 0 and abs(p.score - threshold) <= SCORE_MARGIN]
    assert not at_threshold, f"fixture: candidates {at_threshold} at the threshold {threshold}"
    clear = clear_decisions(predictor.head_maps([image]), len(expected))
    persons = record["persons"]
    actual = [
        Person(score=p["score"], bbox=np.array(p["bbox"]), keypoints=np.array(p["keypoints"]))
        for p in persons
    ]
    assert len(actual) == len(expected), (
        f"{record['frame_id']}: {len(actual)} persons, Predictor gives {len(expected)}"
    )
    assert_same_persons(expected, actual, clear, min_ranked=len(expected))
    assert_valid_ids(record)
    scores = [p["score"] for p in persons]
    assert scores == sorted(scores, reverse=True), "persons must come highest score first"


def assert_valid_ids(record: dict[str, Any]) -> None:
    """Track ids in one message: -1 (no confirmed track) or >= 1, and no id twice."""
    ids = [p["id"] for p in record["persons"]]
    tracked = [i for i in ids if i != -1]
    assert all(i >= 1 for i in tracked), f"{record['frame_id']}: ids {ids}"
    assert len(set(tracked)) == len(tracked), f"{record['frame_id']}: an id twice in {ids}"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written right now
            break
    return out


def wait_for_records(path: Path, predicate, count: int, timeout: float) -> list[dict[str, Any]]:
    """Records satisfying `predicate` once at least `count` of them exist (or fail after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        matching = [r for r in read_jsonl(path) if predicate(r)]
        if len(matching) >= count or time.monotonic() > deadline:
            return matching
        time.sleep(0.1)


def latest_diagnostics(path: Path, after: float = 0.0, timeout: float = 10.0) -> dict[str, str]:
    """Values of the newest /diagnostics status received after wall time `after`."""
    records = wait_for_records(
        path, lambda r: r["topic"] == "diagnostics" and r["t_recv"] > after, 1, timeout
    )
    assert records, f"no /diagnostics received after {after}"
    return records[-1]["values"]


def raw_entry(
    image: np.ndarray,
    frame_id: str,
    stamp: tuple[int, int],
    encoding: str = "bgr8",
    pad: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """A plan entry for a sensor_msgs/Image holding `image` (already in `encoding`'s channel order)."""
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    step = width * channels + pad
    rows = np.zeros((height, step), dtype=np.uint8)
    rows[:, : width * channels] = image.reshape(height, width * channels)
    return dict(
        type="raw",
        frame_id=frame_id,
        stamp=stamp,
        height=height,
        width=width,
        encoding=encoding,
        step=step,
        data=rows.tobytes(),
        **extra,
    )


def depth_entry(values: np.ndarray, frame_id: str, stamp: tuple[int, int], **extra: Any) -> dict[str, Any]:
    """A plan entry for a depth sensor_msgs/Image: uint16 values -> 16UC1 (millimetres), float32 ->
    32FC1 (metres), little-endian, unpadded; `extra` overrides fields (e.g. a bad encoding)."""
    encoding = {np.dtype(np.uint16): "16UC1", np.dtype(np.float32): "32FC1"}[values.dtype]
    little = values.astype(values.dtype.newbyteorder("<"))
    height, width = values.shape
    entry = dict(
        type="depth",
        frame_id=frame_id,
        stamp=stamp,
        height=height,
        width=width,
        encoding=encoding,
        step=width * values.dtype.itemsize,
        data=little.tobytes(),
    )
    entry.update(extra)
    return entry


def camera_info_entry(
    k: list[float], width: int, height: int, frame_id: str, stamp: tuple[int, int], **extra: Any
) -> dict[str, Any]:
    """A plan entry for a sensor_msgs/CameraInfo with row-major K (distortion: none, P all zero;
    `extra` may give `p` (12 numbers) and `d`)."""
    return dict(
        type="camera_info", k=list(k), width=width, height=height, frame_id=frame_id, stamp=stamp, **extra
    )
