"""What the grader writes: grades.csv, grades.json, and one feedback page per submission.

Every value a student can influence (their name, the file name, the exercise, a
status reason, check messages, restored cells, cell errors, flags) is untrusted.
The rules that keep it harmless:

**grades.csv is opened in spreadsheets.** A cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is read there as a formula (OWASP
"CSV Injection"): ``=HYPERLINK(...)`` as a student name becomes a link, and
worse. Every *string* cell that starts with one of those characters gets a
leading apostrophe ``'``, which the spreadsheet shows as text. Numbers (points,
totals) are written as they are, so they stay numbers (points are never
negative). See :func:`spreadsheet_safe`.

**grades.json is data, not a spreadsheet.** It keeps the raw values, including
the failure messages of hidden checks and the row's ``flags`` (``[]`` if the
row has none), for the instructor.

**Feedback pages are HTML.** Everything student-controlled is escaped. A
message (or reason, cell error, flag) of more than one line, such as a
circuit-breaker trace table, is shown as preformatted text in ``<pre>`` so its
lines and columns survive; a one-line message stays inline. The page's file
name keeps only ``A-Z a-z 0-9 . _ -`` (anything else becomes ``_``, leading dots
are dropped) and ends in the row's number, so a name like ``../../etc/passwd``
can only make a page inside ``feedback/``. See :func:`page_name`.

**Hidden (instructor-only) checks** appear on the student's page with their id,
points, pass or fail and hint, but never their failure message: a message can
carry the hidden check's inputs. Check code never appears on a page at all.

**Earlier runs are kept.** Grading again into the same folder does not replace
the earlier grades.csv while mixing both runs' feedback pages: before writing,
:func:`write_all` moves the earlier run's grades.csv, grades.json and feedback/
together into ``earlier/<stamp>/``, where ``<stamp>`` is the earlier
grades.json's (else grades.csv's) modification time, local time, as
``%Y%m%d-%H%M%S`` (``-2``, ``-3``... added if that folder exists). The
earlier grades.json's links to its feedback pages still work there. Other files
in the folder are not grader outputs and are left alone.
"""

from __future__ import annotations

import csv
import html
import json
import re
from datetime import datetime
from pathlib import Path

FIXED = ["student", "file", "exercise"]
TAIL = ["total", "maximum", "status", "reason", "flags"]

OUTPUTS = ["grades.csv", "grades.json", "feedback"]  # what one run writes; moved together
EARLIER = "earlier"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_columns(rows) -> list[str]:
    """Every check that any row has, in the order first met (released, then hidden)."""
    columns = []
    for row in rows:
        for check_id in row["checks"]:
            if check_id not in columns:
                columns.append(check_id)
    return columns


def page_name(row) -> str:
    """The feedback page's file name: a plain name inside feedback/, unique by the row's index."""
    stem = Path(row["file"]).stem
    base = f"{row['student']}--{stem}" if row["student"] != stem else stem
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")[:100] or "submission"
    return f"{safe}-{row['index'] + 1:04d}.html"


def spreadsheet_safe(value):
    """``value`` as a CSV cell that a spreadsheet shows as written: a string that
    would start a formula gets a leading apostrophe; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


# ---------------------------------------------------------------- writing a run


def write_all(rows, out: Path) -> Path | None:
    """Write grades.csv, grades.json and feedback/ for ``rows`` into ``out``.

    An earlier run's outputs in ``out`` are first moved to ``out/earlier/<stamp>/``;
    returns that folder, or None if there was no earlier run."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kept = keep_earlier_run(out)
    columns = check_columns(rows)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([spreadsheet_safe(c) for c in FIXED + columns + TAIL])
        for row in rows:
            cells = ([row[k] for k in FIXED]
                     + [row["checks"][c]["points"] if c in row["checks"] else "" for c in columns]
                     + [row[k] for k in TAIL[:-1]] + ["; ".join(row.get("flags") or [])])
            writer.writerow([spreadsheet_safe(cell) for cell in cells])
    feedback = out / "feedback"
    feedback.mkdir()
    listed = []
    for row in rows:
        name = page_name(row)
        (feedback / name).write_text(feedback_page(row), encoding="utf-8")
        entry = {k: row[k] for k in FIXED}
        entry["checks"] = {c: dict(result) for c, result in row["checks"].items()}
        entry.update({k: row[k] for k in TAIL[:-1]})
        entry.update(flags=list(row.get("flags") or []), restored=row["restored"], cell_errors=row["cell_errors"],
                     seconds=row["seconds"], feedback=f"feedback/{name}")
        listed.append(entry)
    (out / "grades.json").write_text(json.dumps({"columns": FIXED + columns + TAIL, "rows": listed}, indent=2,
                                                ensure_ascii=False) + "\n", encoding="utf-8")
    return kept


def keep_earlier_run(out: Path) -> Path | None:
    """Move the outputs of an earlier run in ``out`` to ``out/earlier/<stamp>/`` and
    return that folder (None if ``out`` holds no earlier run)."""
    present = [out / name for name in OUTPUTS if (out / name).exists() or (out / name).is_symlink()]
    if not present:
        return None
    dated = [out / n for n in ("grades.json", "grades.csv") if out / n in present] or present
    stamp = datetime.fromtimestamp(dated[0].lstat().st_mtime).strftime("%Y%m%d-%H%M%S")
    (out / EARLIER).mkdir(exist_ok=True)
    number = 1
    while True:
        target = out / EARLIER / (stamp if number == 1 else f"{stamp}-{number}")
        try:
            target.mkdir()
            break
        except FileExistsError:
            number += 1
    for path in present:
        path.rename(target / path.name)
    return target


# ---------------------------------------------------------------- the feedback page

STYLE = """body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;
vertical-align:top}.pass{color:#17692b;font-weight:600}.fail{color:#a01818;font-weight:600}
.hint{color:#555}.status{padding:.5rem;background:#f3f3f3}.flags{padding:.5rem;background:#fff4d6}
pre{font-family:ui-monospace,monospace;font-size:.85rem;white-space:pre;overflow-x:auto;margin:.2rem 0;
padding:.4rem;background:#f7f7f7}"""


def escaped(value) -> str:
    """Any value as escaped HTML text."""
    return html.escape(str(value))


def as_text(value, inline="span") -> str:
    """Escaped text: one line inline (in ``inline``), several lines as <pre> keeping lines and columns."""
    value = str(value).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    if "\n" in value:
        return f"<pre>{escaped(value)}</pre>"
    return f"<{inline}>{escaped(value)}</{inline}>"


def feedback_page(row) -> str:
    """The student's page: each check, its points, pass or fail, the message and the hint.
    Hidden checks show their id, points, pass or fail and hint, never their message;
    no check's code ever appears. Everything from the row is escaped."""
    e, t = escaped, as_text
    lines = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Feedback: {e(row['student'])}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(row['exercise'] or 'Submission')}: {e(row['total'])} / {e(row['maximum'])} points</h1>",
             f"<p>Student: <b>{e(row['student'])}</b> · file: <code>{e(row['file'])}</code></p>",
             f"<div class='status'>Status: <b>{e(row['status'])}</b>"
             + (f": {t(row['reason'])}" if row["reason"] else "") + "</div>"]
    flags = row.get("flags") or []
    if flags:
        lines.append("<div class='flags'><b>Noted by the grader:</b><ul>"
                     + "".join(f"<li>{t(flag)}</li>" for flag in flags) + "</ul></div>")
    if row["checks"]:
        lines.append("<table><tr><th>check</th><th>points</th><th>result</th><th>why and hint</th></tr>")
        for check_id, entry in row["checks"].items():
            label = e(check_id) + (" <small>(instructor check)</small>" if entry["hidden"] else "")
            verdict = "<span class='pass'>pass</span>" if entry["passed"] else "<span class='fail'>fail</span>"
            detail = ""
            if not entry["passed"]:
                if entry["hidden"]:
                    detail = "<span>(details go to your instructor)</span>"
                elif entry["message"]:
                    detail = t(entry["message"])
                if entry["hint"]:
                    detail += f"<div class='hint'>hint: {e(entry['hint'])}</div>"
            lines.append(f"<tr><td>{label}</td><td>{e(entry['points'])} / {e(entry['max'])}</td><td>{verdict}</td>"
                         f"<td>{detail}</td></tr>")
        lines.append("</table>")
    if row["restored"]:
        lines.append("<h2>Check cells put back</h2><ul>"
                     + "".join(f"<li>{t(c)}</li>" for c in row["restored"]) + "</ul>")
    if row["cell_errors"]:
        lines.append("<h2>Your cells that raised an error</h2><ul>"
                     + "".join(f"<li>cell {e(c['cell'])}: {t(c['error'], 'code')}</li>" for c in row["cell_errors"])
                     + "</ul>")
    lines.append("</body></html>\n")
    return "\n".join(lines)
