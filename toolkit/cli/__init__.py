"""The ``toolkit`` command. Thin: each command parses, builds a config, calls one library function.

Command groups live in sibling modules (``info.py``, ``export.py``, ...) and register themselves on
:data:`app`. Nothing heavy is imported at module level, so ``toolkit --help`` never loads torch.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from toolkit.cli._app import app, err_console, interrupt_note

__all__ = ["app", "main"]

# Each module adds its commands to `app` on import; a module that does not exist yet is skipped.
_COMMAND_MODULES = ("info", "export", "train", "profile", "select", "devices")


def _register() -> None:
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(f"toolkit.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"toolkit.cli.{name}":
                raise


def main(argv: list[str] | None = None) -> int:
    """Run the CLI, turning ToolkitError and Ctrl-C into one line and an exit code.

    The log capture that ``_root`` starts ends here, before anything is printed about the outcome, so
    click's own messages (usage errors) reach the terminal and every error line can name the log.
    """
    from rich.markup import escape

    from toolkit.console import release
    from toolkit.errors import ToolkitError
    from toolkit.interrupts import installed

    _register()
    try:
        try:
            with installed():  # Ctrl-C waits for an import in progress to finish, then stops the command
                code = app(args=argv, standalone_mode=False)  # typer turns Ctrl-C into a returned 130
        finally:
            log = release()
    except ToolkitError as e:
        # escaped: an extra's name in brackets ('mobilenet-toolkit[aihub]') is not rich markup
        if e.exit_code == 130:  # an interrupt the command handled itself (train: state saved)
            text = str(e).removeprefix("interrupted: ")
            err_console.print(f"[yellow]interrupted:[/] {escape(text)}", highlight=False, soft_wrap=True)
        else:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}{_see(log)}", highlight=False, soft_wrap=True)
        return e.exit_code
    except KeyboardInterrupt:
        code = 130
    except SystemExit as e:
        return int(e.code or 0)
    except Exception as e:
        return _click_exit(e, log)
    if code == 130:
        err_console.print(f"[yellow]interrupted:[/] {escape(interrupt_note())}", highlight=False, soft_wrap=True)
    return code if isinstance(code, int) else 0


def _see(log: Path | None) -> str:
    """`` (log: PATH)`` when third-party output was captured to a file this run, else nothing."""
    from rich.markup import escape

    return escape(f" (log: {log})") if log is not None and log.is_file() else ""


def _click_exit(e: Exception, log: Path | None = None) -> int:
    """Map typer/click's own exceptions (bad option values, --help's Exit) to their exit codes.

    Duck-typed because typer >= 0.22 vendors click under another module path.
    """
    name = type(e).__name__
    if hasattr(e, "show") and hasattr(e, "exit_code"):  # UsageError, BadParameter, NoSuchOption, ...
        e.show()
        return int(e.exit_code)
    if name == "Exit":
        return int(getattr(e, "exit_code", 0))
    if name == "Abort":
        err_console.print(f"[yellow]interrupted:[/] {interrupt_note()}", highlight=False, soft_wrap=True)
        return 130
    if os.environ.get("TOOLKIT_DEBUG"):
        raise e
    if log is not None and log.is_file():
        import traceback

        with open(log, "a", encoding="utf-8") as f:
            traceback.print_exception(e, file=f)
    err_console.print(f"[bold red]internal error:[/] {type(e).__name__}: {e}{_see(log)} "
                      "(TOOLKIT_DEBUG=1 shows the traceback)", highlight=False, soft_wrap=True)  # fmt: skip
    return 1


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
