"""Fast tracker-setting sweep over bench_tracking.py's scenarios, with the sequences cached on disk.

    benchmarks/tracking_sweep.py '[["default", {}, {}], ["b.3", {"low_birth_threshold": 0.3}, {}]]'
    benchmarks/tracking_sweep.py '[["ours", {}, {}]]' --sets evaluation --sequences 2 --cmc image
    benchmarks/tracking_sweep.py '[["ours", {}, {}]]' --sequences 16 --skip 4 --rows "norfair keypoints"
    benchmarks/tracking_sweep.py --rows "norfair keypoints" "boxmot ByteTrack"
    benchmarks/tracking_sweep.py --table runs/ours.jsonl runs/peers.jsonl   # markdown table of --json rows

Run with .venv/bin/python. Each variant is `[name, TrackerConfig fields, PoseTracker switches]`
(e.g. `{"_hip_anchor": true}`);
`--rows` adds bench_tracking.py's rows by name (its `TRACKERS`: ours, ablations, peers). Prints
per row the mean IDF1 over the scenarios, the ID switches summed over them (each the mean over
the seed sets) and per scenario IDF1 / switches; `--ids` adds motmetrics' identity counts
(IDTP, IDFN, IDFP: where IDF1 is lost); `--json` appends per-set results for a table. Design
choices are swept on the tuning sets (0-4) only; the evaluation sets are run once per chosen
configuration.
Simulating a sequence costs far more than tracking it, hence the cache (`--cache`).
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_tracking as bt

from centerpose_core.tracking import PoseTracker, TrackerConfig

IDENTITY = ("idtp", "idfn", "idfp")


def sequences(cache: Path, scene: str, seed_set: int, count: int) -> list[list[bt.Frame]]:
    """The scenario's first `count` sequences of a seed set, simulated once and then read from `cache`."""
    path = cache / f"{scene}_{seed_set}_{count}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    runs = [bt.simulate(scene, bt.sequence_seed(seed_set, scene, n)) for n in range(count)]
    path.write_bytes(pickle.dumps(runs))
    return runs


def ours(config: dict, switches: dict, cmc: str):
    """A factory of bench_tracking's `Ours` around a PoseTracker with the given settings."""

    def make() -> bt.Ours:
        tracker = PoseTracker(TrackerConfig(**config))
        for name, value in switches.items():
            if not hasattr(PoseTracker, name):
                raise ValueError(f"PoseTracker has no switch {name!r}")
            setattr(tracker, name, value)
        return bt.Ours(tracker, cmc)

    return make


PEER_ROWS = ("norfair keypoints", "boxmot ByteTrack", "boxmot OC-SORT", "boxmot BoT-SORT")


def print_table(paths: list[Path]) -> None:
    """A markdown table (IDF1 / ID switches per scenario, each the mean over the sets) of the
    `--json` rows in `paths`, then ours (bench_tracking's OURS row) against each row per set and
    against the best peer per scenario."""
    rows = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line]
    scenes = list(rows[0]["res"])

    def mean(row: dict, scene: str, k: int) -> float:
        return statistics.mean(v[k] for v in row["res"][scene])

    print("| tracker | " + " | ".join(scenes) + " | mean IDF1 | ID sw. total |")
    print("|---" * (len(scenes) + 3) + "|")
    for row in rows:
        cells = [f"{mean(row, s, 0):.3f} / {mean(row, s, 1):.1f}" for s in scenes]
        idf1 = statistics.mean(mean(row, s, 0) for s in scenes)
        switches = sum(mean(row, s, 1) for s in scenes)
        print(f"| {row['name'].strip()} | " + " | ".join(cells) + f" | {idf1:.3f} | {switches:.1f} |")
    by_name = {row["name"]: row for row in rows}
    ours = by_name.get(bt.OURS)
    if ours is None:
        return
    sets = len(ours["res"][scenes[0]])

    def per_set(row: dict) -> list[float]:
        return [statistics.mean(row["res"][s][i][0] for s in scenes) for i in range(sets)]

    for row in rows:
        if row is not ours:
            diffs = [a - b for a, b in zip(per_set(ours), per_set(row))]
            print(
                f"ours - {row['name'].strip()}: IDF1 {statistics.mean(diffs):+.3f} (worst set "
                f"{min(diffs):+.3f}, better in {sum(d > 0 for d in diffs)}/{sets} sets)"
            )
    peers = [by_name[name] for name in PEER_ROWS if name in by_name]
    for scene in scenes if peers else []:
        best = max(peers, key=lambda row: mean(row, scene, 0))
        diffs = [a[0] - b[0] for a, b in zip(ours["res"][scene], best["res"][scene])]
        print(
            f"  {scene:<18} ours {mean(ours, scene, 0):.3f}, best peer {mean(best, scene, 0):.3f} "
            f"({best['name']}): per set {statistics.mean(diffs):+.3f} ± "
            f"{statistics.stdev(diffs) / len(diffs) ** 0.5:.3f} s.e., better in "
            f"{sum(d > 0 for d in diffs)}/{len(diffs)} sets"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="?", default="[]", help="JSON list of [name, config, switches]")
    parser.add_argument("--sets", choices=sorted(bt.SEED_SETS), default="tuning")
    parser.add_argument("--sequences", type=int, default=4, help="sequences per scenario and seed set")
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="score only the sequences after the first SKIP of each set (e.g. --sequences 16 --skip 4: "
        "tuning-set sequences no sweep has seen, a check of over-tuning without the evaluation sets)",
    )
    parser.add_argument("--cmc", choices=("none", "known", "image"), default="known")
    parser.add_argument("--rows", nargs="*", default=[], help="bench_tracking.py rows to add by name")
    parser.add_argument("--scenarios", nargs="+", choices=list(bt.SCENES), default=list(bt.SCENES))
    parser.add_argument("--ids", action="store_true", help="also print IDTP / IDFN / IDFP per scenario")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tracking_sweep_cache"))
    parser.add_argument("--json", type=Path, help="append each row's per-set results here")
    parser.add_argument("--table", type=Path, nargs="+", help="only print the table of these --json files")
    args = parser.parse_args(argv)
    if not 0 <= args.skip < args.sequences:
        parser.error(f"--skip must be in [0, --sequences), got {args.skip} with --sequences {args.sequences}")
    if args.table:
        print_table(args.table)
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = [(name, ours(config, switches, args.cmc)) for name, config, switches in json.loads(args.variants)]
    rows += [(name, bt.TRACKERS[name]) for name in args.rows]
    metrics = ("idf1", "num_switches") + (IDENTITY if args.ids else ())
    for name, make in rows:
        start = time.time()
        results = {
            scene: [
                bt.score(sequences(args.cache, scene, s, args.sequences)[args.skip :], make, metrics)
                for s in bt.SEED_SETS[args.sets]
            ]
            for scene in args.scenarios
        }
        means = {
            scene: {key: statistics.mean(m[key] for m in per_set) for key in metrics}
            for scene, per_set in results.items()
        }
        idf1 = statistics.mean(m["idf1"] for m in means.values())
        switches = sum(m["num_switches"] for m in means.values())
        cells = " ".join(f"{s[:8]}={m['idf1']:.3f}/{m['num_switches']:.1f}" for s, m in means.items())
        print(
            f"{name:<28} IDF1 {idf1:.4f} sw {switches:6.1f} | {cells} ({time.time() - start:.0f}s)",
            flush=True,
        )
        if args.ids:
            for scene, m in means.items():
                print(f"    {scene:<18} " + " ".join(f"{k} {m[k]:.0f}" for k in IDENTITY))
        if args.json:
            with args.json.open("a") as out:
                per_set = {s: [(m["idf1"], m["num_switches"]) for m in v] for s, v in results.items()}
                out.write(json.dumps({"name": name, "res": per_set}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
