"""Lifecycle cycles of `centerpose-ros-lifecycle` over real DDS: memory, threads, file descriptors and
time per configure -> activate -> deactivate -> cleanup cycle.

    .venv/bin/python benchmarks/bench_lifecycle.py [--cycles 100] [--checkpoint PATH] [--input-size 128]

A lifecycle client process drives the node through its `~/change_state` service, as a lifecycle
manager would. After every tenth of the cycles (node unconfigured: the model released) it samples
the node's RSS (all and anonymous), threads and open file descriptors; `change` compares the last
sample with the one after the first cycle (one-time caches are in place by then). Prints one JSON
object. The test suite runs a few cycles (tests/ros/test_node_faults.py); this runs the full count.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ros"))
sys.path.insert(0, str(REPO))
from ros_helpers import LIFECYCLE_NODE_EXE, RosSession, memory_mb  # noqa: E402

TRANSITIONS = (
    ("configure", "inactive"),
    ("activate", "active"),
    ("deactivate", "inactive"),
    ("cleanup", "unconfigured"),
)


def _resources(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    threads = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Threads:"))
    memory = memory_mb(pid)
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return {"rss_mb": round(memory.rss, 1), "anon_mb": round(memory.anon, 1), "threads": threads, "fds": fds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--input-size", type=int, default=128)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_lifecycle_"))
    if args.checkpoint is None:
        from centerpose_core.model.random_weights import save_random_checkpoint

        args.checkpoint = save_random_checkpoint(tmp / "random_seed0.pth")
    else:
        args.checkpoint = Path(shutil.copyfile(args.checkpoint, tmp / args.checkpoint.name))
    session = RosSession(tmp)
    result: dict = {"cycles": args.cycles, "input_size": args.input_size, "log_dir": str(tmp)}
    try:
        node = session.start_node(
            args.checkpoint,
            executable=LIFECYCLE_NODE_EXE,
            input_size=args.input_size,
            backend="torch",
            device="cpu",
        )
        node.wait_for_log(r"waiting for configure", timeout=300)
        client = session.start_lifecycle_client()
        pid = node.popen.pid
        samples, seconds = [], []
        result["unconfigured_at_start"] = _resources(pid)
        every = max(1, args.cycles // 10)
        for cycle in range(1, args.cycles + 1):
            start = time.monotonic()
            for transition, state in TRANSITIONS:
                ok, now = client.change(transition)
                if not ok or now != state:
                    raise RuntimeError(f"cycle {cycle}: {transition} -> {now} ({'ok' if ok else 'failed'})")
            seconds.append(time.monotonic() - start)
            if cycle == 1 or cycle % every == 0:
                samples.append({"cycle": cycle, **_resources(pid)})
        first, last = samples[0], samples[-1]
        result["samples"] = samples
        result["seconds_per_cycle"] = {
            "p50": round(sorted(seconds)[len(seconds) // 2], 2),
            "max": round(max(seconds), 2),
            "total": round(sum(seconds), 1),
        }
        result["change_after_first_cycle"] = {
            key: round(last[key] - first[key], 1) for key in first if key != "cycle"
        }
        result["errors_in_log"] = sum("[ERROR]" in line for line in node.log().splitlines())
    finally:
        session.close()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
