"""The ``toolkit`` command. Thin: each command parses, builds a config, calls one library function.

Command groups live in sibling modules (``info.py``, ``export.py``, ...) and register themselves on
:data:`app`. Nothing heavy is imported at module level, so ``toolkit --help`` never loads torch.
"""

from __future__ import annotations

import importlib
import os
import sys

from toolkit.cli._app import app, err_console

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
    """Run the CLI, turning ToolkitError (and Ctrl-C) into one line and an exit code."""
    from rich.markup import escape

    from toolkit.errors import ToolkitError

    if not os.environ.get("TOOLKIT_DEBUG"):
        # Third-party deprecation chatter (executorch, torch.export, coremltools) buries the toolkit's own
        # output; TOOLKIT_DEBUG=1 shows it again.
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except ToolkitError as e:
        # escaped: an extra's name in brackets ('mobilenet-toolkit[aihub]') is not rich markup
        err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        return e.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    except SystemExit as e:
        return int(e.code or 0)
    except Exception as e:
        return _click_exit(e)
    return 0


def _click_exit(e: Exception) -> int:
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
        err_console.print("[yellow]aborted[/]")
        return 130
    if os.environ.get("TOOLKIT_DEBUG"):
        raise e
    err_console.print(f"[bold red]internal error:[/] {type(e).__name__}: {e} (TOOLKIT_DEBUG=1 shows the traceback)")
    return 1


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
