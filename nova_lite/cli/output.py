"""How client commands print: rich tables for people, JSON for scripts."""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["Output"]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(_plain(value))


class Output:
    """Prints records and lists of records as tables (default) or JSON."""

    def __init__(self, fmt: str = "table") -> None:
        self.fmt = fmt
        self.console = Console()

    def rows(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """A list of records, with these columns in a table (all fields in JSON)."""
        if self.fmt == "json":
            print(json.dumps([_plain(dict(r)) for r in rows], indent=2))
            return
        table = Table()
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        self.console.print(table)

    def record(self, record: Mapping[str, Any]) -> None:
        """One record: a field/value table, or a JSON object."""
        if self.fmt == "json":
            print(json.dumps(_plain(dict(record)), indent=2))
            return
        table = Table("field", "value")
        for key, value in record.items():
            table.add_row(key, _cell(value))
        self.console.print(table)

    def message(self, text: str) -> None:
        """A line for people (a JSON string in JSON mode)."""
        print(json.dumps(text) if self.fmt == "json" else text)

    @contextlib.contextmanager
    def spinner(self, text: str) -> Iterator[None]:
        """A progress spinner on a terminal while a long operation runs."""
        if self.fmt == "json" or not sys.stderr.isatty():
            yield
            return
        with Console(stderr=True).status(text):
            yield
