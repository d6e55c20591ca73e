"""The `centerpose` command: one sub-command per module in `centerpose_core.commands`.

`COMMANDS` names each sub-command with its one-line help; adding one is a line there plus the
module `centerpose_core/commands/<name>.py`, which defines `add_arguments(parser)` and
`run(args) -> exit code`. Only the chosen command's module is imported (the others' help lines
come from `COMMANDS`), so `centerpose --help` imports neither torch nor numpy; command modules
keep their heavy imports inside `run` (tests/core/test_cli_startup.py checks both).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from centerpose_core.errors import UserError

__all__ = ["COMMANDS", "UserError", "build_parser", "main"]

COMMANDS = {
    "predict": "detect persons and keypoints in images",
    "bench": "time pre-process / forward / decode / post-process",
    "export": "export a checkpoint to ONNX (and optionally a TensorRT engine)",
    "targets": "write the input and training targets of each image (.npz, optional heatmap PNGs)",
    "eval": "COCO keypoint AP of a model on a COCO-format set",
    "track": "track persons through a video or image folder (JSON lines with ids)",
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: every command listed, the arguments of the one `argv` names."""
    parser = argparse.ArgumentParser(
        prog="centerpose", description="CenterNet (DLA-34) multi-person pose estimation"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    args = sys.argv[1:] if argv is None else argv
    chosen = next((arg for arg in args if not arg.startswith("-")), None)
    for name, summary in COMMANDS.items():
        command = subparsers.add_parser(name, help=summary, description=summary)
        if name == chosen:
            module = importlib.import_module(f"centerpose_core.commands.{name}")
            module.add_arguments(command)
            command.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"centerpose {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
