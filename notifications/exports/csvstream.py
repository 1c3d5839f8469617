"""CSV written row by row on a pseudo-buffer, so a response streams in constant memory (pure)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

# Rows joined into one chunk of the response: fewer, larger writes than one per row.
ROWS_PER_CHUNK = 500
# A cell a spreadsheet would run as a formula (CSV injection) is prefixed with a quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """A file-like object whose ``write`` returns what it is given (the csv module's buffer)."""

    def write(self, value: str) -> str:
        return value


def cell(value: Any) -> Any:
    """Return a value as the CSV writer should see it: empty for None, guarded text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_chunks(
    header: list[str], rows: Iterable[list[Any]], *, rows_per_chunk: int = ROWS_PER_CHUNK
) -> Iterator[str]:
    """Yield the CSV text of a header and rows, a few hundred rows per chunk."""
    writer = csv.writer(Echo(), lineterminator="\r\n")
    buffer = [writer.writerow(header)]
    for row in rows:
        buffer.append(writer.writerow([cell(value) for value in row]))
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)
