"""Errors the CLI turns into one clear line and an exit code, never a traceback."""

from __future__ import annotations

__all__ = ["MissingDependencyError", "ToolkitError", "UsageError"]


class ToolkitError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message. Exit code 1."""

    exit_code = 1


class UsageError(ToolkitError, ValueError):
    """Bad input (α, ρ, target, precision, path, ...). Exit code 2, like argument errors."""

    exit_code = 2


class MissingDependencyError(ToolkitError, ImportError):
    """An optional runtime is not installed; the message names the extra to install."""

    exit_code = 3

    @classmethod
    def for_extra(cls, what: str, extra: str) -> MissingDependencyError:
        return cls(f"{what} is not installed: pip install 'mobilenet-toolkit[{extra}]'")
