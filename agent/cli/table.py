"""Plain-text tables whose columns are as wide as their widest cell: names are never cut.

Every tabular command (``dlq list``, ``deliveries``, ``sinks``, ``top``) prints through
:func:`render_table`, so a long sink name widens its column instead of being truncated
or pushing the rest of the row out of line.
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["render_table"]


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "",
                 colours: Sequence[Sequence[str]] | None = None) -> list[str]:
    """Lay ``rows`` out under ``headers``, two spaces between columns.

    :param align: one letter per column, ``l`` (default) or ``r``; the last column is
        never padded (it holds free text such as an error message).
    :param colours: optional ANSI start codes per cell (same shape as ``rows``); the
        padding is measured on the text, so colours never shift the columns.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    last = len(headers) - 1

    def line(cells: Sequence[str], codes: Sequence[str] | None) -> str:
        out = []
        for i, cell in enumerate(cells):
            right = i < len(align) and align[i] == "r"
            text = cell if i == last and not right else (cell.rjust(widths[i]) if right else cell.ljust(widths[i]))
            code = codes[i] if codes is not None and i < len(codes) else ""
            out.append(f"{code}{text}\x1b[0m" if code else text)
        return "  ".join(out).rstrip()

    lines = [line(headers, None)]
    for n, row in enumerate(rows):
        lines.append(line(row, colours[n] if colours is not None else None))
    return lines
