"""A report of a few runs, shown as a table in a notebook.

:class:`Table` is a plain ``dict`` of rows, ``{row name: {column: value}}``, so
code and tests read it as a dict; a notebook shows it as an HTML table, one row
per run, instead of the text of a nested dict.
"""

from __future__ import annotations

from html import escape


class Table(dict):
    """``{row name: {column: value}}`` that a notebook shows as an HTML table."""

    def _repr_html_(self) -> str:
        columns = list(dict.fromkeys(column for row in self.values() for column in row))
        head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
        rows = "".join(
            f"<tr><th style='text-align: left'>{escape(str(name))}</th>"
            + "".join(f"<td>{escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
            for name, row in self.items()
        )
        return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table>"
