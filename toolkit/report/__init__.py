"""Latency reports from the results store: tables, plots, renderers and the CI compare gate."""

from __future__ import annotations

from toolkit.report.compare import Comparison, compare_records
from toolkit.report.data import Row, group_rows, to_rows
from toolkit.report.render import FORMATS, write_report

__all__ = ["FORMATS", "Comparison", "Row", "compare_records", "group_rows", "to_rows", "write_report"]
