"""``python -m toolkit`` is the ``toolkit`` command."""

from toolkit.cli import _entry

_entry()
