"""The `centerpose` command: one sub-command per module in `centerpose_core.commands`.

Each command module exposes `register(subparsers)`, which adds its parser and sets `func` to a
callable taking the parsed namespace and returning an exit code. Heavy imports stay inside the
commands so `centerpose --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from centerpose_core.errors import UserError

__all__ = ["UserError", "build_parser", "main"]

COMMAND_MODULES = ("predict", "bench", "export", "targets", "eval", "track")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="centerpose", description="CenterNet (DLA-34) multi-person pose estimation"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"centerpose_core.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"centerpose {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
