"""The shared typer app and consoles; command modules import these."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from toolkit import __version__

app = typer.Typer(
    name="toolkit",
    help="Put MobileNet V1 on phones: build any α/ρ variant, export, verify, quantize and profile it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, `| less`) gets a wide fixed width instead of rich's 80-column default, so
# tables keep every column; a terminal keeps its own width.
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(width=_PIPE_WIDTH)
err_console = Console(stderr=True, width=_PIPE_WIDTH)


def _version(value: bool) -> None:
    if value:
        console.print(f"toolkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Put MobileNet V1 on phones: build any α/ρ variant, export, verify, quantize and profile it."""
