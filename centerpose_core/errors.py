"""Exceptions that mean "the user's input or setup is wrong", reported as one line without a traceback."""

from __future__ import annotations

import importlib
from types import ModuleType


class UserError(Exception):
    """A problem with the user's input: the CLI prints it as one line and exits with code 2."""


class MissingDependencyError(UserError, RuntimeError):
    """An optional package (TensorRT, torch2trt) or the GPU it needs is missing."""


def import_optional(
    module: str, what: str, instead: str, error: type[MissingDependencyError] = MissingDependencyError
) -> ModuleType:
    """Import an optional package, or raise `error` saying what is missing and what to do instead."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise error(f"{what} is not installed (import {module} failed: {exc}); {instead}") from exc
