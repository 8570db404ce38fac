"""The shared typer app and consoles; command modules import these."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import typer

from toolkit import __version__
from toolkit.console import err as err_console
from toolkit.console import out as console

__all__ = ["app", "console", "err_console", "interrupt_note", "on_interrupt"]

app = typer.Typer(
    name="toolkit",
    help="Put MobileNet V1 on phones: build any α/ρ variant, export, verify, quantize and profile it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_on_interrupt: Callable[[], str] | None = None


def on_interrupt(note: Callable[[], str]) -> None:
    """What the running command says after Ctrl-C: what it kept and how to resume (called at that moment)."""
    global _on_interrupt
    _on_interrupt = note


def interrupt_note() -> str:
    """The running command's Ctrl-C line (its :func:`on_interrupt` note, else that nothing was written)."""
    global _on_interrupt
    note, _on_interrupt = _on_interrupt, None
    try:
        return note() if note is not None else "nothing was written"
    except Exception as e:  # the note must not hide the interrupt
        return f"({type(e).__name__} while summarizing: {e})"


def _version(value: bool) -> None:
    if value:
        console.print(f"toolkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show third-party logging, warnings and native output (default: a log file)."
    ),
) -> None:
    """Put MobileNet V1 on phones: build any α/ρ variant, export, verify, quantize and profile it."""
    if verbose or os.environ.get("TOOLKIT_DEBUG"):
        return
    from toolkit.console import capture, new_log_path
    from toolkit.paths import data_dir

    command = ctx.invoked_subcommand
    log = new_log_path(data_dir() / "logs", command)
    capture(log, header=f"toolkit {__version__}: {' '.join([os.path.basename(sys.argv[0]), *sys.argv[1:]])}")
