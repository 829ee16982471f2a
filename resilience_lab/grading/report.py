"""What the grader writes: grades.csv, grades.json, and one feedback page per submission."""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

FIXED = ["student", "file", "exercise"]
TAIL = ["total", "maximum", "status", "reason"]


def check_columns(rows) -> list[str]:
    """Every check that any row has, in the order first met (released, then hidden)."""
    columns = []
    for row in rows:
        for check_id in row["checks"]:
            if check_id not in columns:
                columns.append(check_id)
    return columns


def page_name(row) -> str:
    stem = Path(row["file"]).stem
    base = f"{row['student']}--{stem}" if row["student"] != stem else stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:100] + f"-{row['index'] + 1:04d}.html"


def write_all(rows, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    columns = check_columns(rows)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIXED + columns + TAIL)
        for row in rows:
            writer.writerow([row[k] for k in FIXED]
                            + [row["checks"][c]["points"] if c in row["checks"] else "" for c in columns]
                            + [row[k] for k in TAIL])
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    listed = []
    for row in rows:
        name = page_name(row)
        (feedback / name).write_text(feedback_page(row), encoding="utf-8")
        entry = {k: row[k] for k in FIXED}
        entry["checks"] = {c: {k: v for k, v in e.items()} for c, e in row["checks"].items()}
        entry.update({k: row[k] for k in TAIL})
        entry.update(restored=row["restored"], cell_errors=row["cell_errors"], seconds=row["seconds"],
                     feedback=f"feedback/{name}")
        listed.append(entry)
    (out / "grades.json").write_text(json.dumps({"columns": FIXED + columns + TAIL, "rows": listed}, indent=2,
                                                ensure_ascii=False) + "\n", encoding="utf-8")


STYLE = """body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;
vertical-align:top}.pass{color:#17692b;font-weight:600}.fail{color:#a01818;font-weight:600}
.hint{color:#555}.status{padding:.5rem;background:#f3f3f3}"""


def feedback_page(row) -> str:
    """The student's page: each check, its points, pass or fail, the message and the hint.
    It never contains check code (hidden checks show their id, message and hint only)."""
    e = html.escape
    lines = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Feedback: {e(row['student'])}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(row['exercise'] or 'Submission')}: {row['total']} / {row['maximum']} points</h1>",
             f"<p>Student: <b>{e(row['student'])}</b> · file: <code>{e(row['file'])}</code></p>",
             f"<p class='status'>Status: <b>{e(row['status'])}</b>"
             + (f": {e(row['reason'])}" if row["reason"] else "") + "</p>"]
    if row["checks"]:
        lines.append("<table><tr><th>check</th><th>points</th><th>result</th><th>why and hint</th></tr>")
        for check_id, entry in row["checks"].items():
            label = e(check_id) + (" <small>(instructor check)</small>" if entry["hidden"] else "")
            verdict = "<span class='pass'>pass</span>" if entry["passed"] else "<span class='fail'>fail</span>"
            detail = ""
            if not entry["passed"]:
                detail = e(entry["message"])
                if entry["hint"]:
                    detail += f"<div class='hint'>hint: {e(entry['hint'])}</div>"
            lines.append(f"<tr><td>{label}</td><td>{entry['points']} / {entry['max']}</td><td>{verdict}</td>"
                         f"<td>{detail}</td></tr>")
        lines.append("</table>")
    if row["restored"]:
        lines.append("<h2>Check cells put back</h2><ul>"
                     + "".join(f"<li>{e(c)}</li>" for c in row["restored"]) + "</ul>")
    if row["cell_errors"]:
        lines.append("<h2>Your cells that raised an error</h2><ul>"
                     + "".join(f"<li>cell {c['cell']}: <code>{e(c['error'])}</code></li>" for c in row["cell_errors"])
                     + "</ul>")
    lines.append("</body></html>\n")
    return "\n".join(lines)
