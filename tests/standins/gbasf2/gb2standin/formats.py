"""Text layouts of the gb2 tools, reverse-engineered from the recorded outputs in ``../recorded``.

The column tables of ``gb2_job_status`` and ``gb2_project_summary`` follow one rule
that reproduces the recorded examples character by character: each column is as wide
as its longest entry (header included), columns are separated by three spaces, data
cells are left-aligned and header cells are centred (extra space on the right).
"""

from __future__ import annotations


def _center(text: str, width: int) -> str:
    pad = max(0, width - len(text))
    left = pad // 2
    return " " * left + text + " " * (pad - left)


def table(headers: list[str], rows: list[list[str]], sep: str = "   ") -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [sep.join(_center(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("=" * (sum(widths) + len(sep) * (len(widths) - 1)))
    for row in rows:
        lines.append(sep.join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return lines


def centered_title(text: str, width: int) -> str:
    return " " * max(0, (width - len(text)) // 2) + text
