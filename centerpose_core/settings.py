"""Settings dataclasses whose fields carry their own one-line help, so the CLI flags and the ROS
parameter descriptors describe a setting from the one place that defines it."""

from __future__ import annotations

from dataclasses import field, fields
from typing import Any


def setting(default: float | int, help: str) -> Any:
    """A dataclass field with `default` and its description in `metadata["help"]`."""
    return field(default=default, metadata={"help": help})


class Described:
    """Mixin for a settings dataclass built from `setting` fields."""

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Field name -> one-line description (for CLI help and ROS parameter descriptors)."""
        return {f.name: f.metadata["help"] for f in fields(cls)}
