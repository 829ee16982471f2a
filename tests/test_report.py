"""What the grader writes (grades.csv, grades.json, feedback pages), from rows built by hand: no kernels."""

import csv
import html
import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

from resilience_lab.grading.report import FIXED, TAIL, feedback_page, page_name, spreadsheet_safe, write_all

TRACE = ("  t  state      calls  failures\n"
         "  0  closed         1         1\n"
         " 10  open           0         0\n"
         " 40  half-open      1         0")


def make_row(index, student, *, file=None, exercise="01-cascading-failures", status="ok", reason="",
             checks=None, flags=None, restored=(), cell_errors=()):
    """A row shaped like runner.blank_result's, after grading."""
    checks = checks if checks is not None else {
        "l1-pool": {"points": 3, "max": 3, "passed": True, "reached": True, "message": "", "hint": "", "hidden": False},
        "l1-fill": {"points": 0, "max": 2, "passed": False, "reached": True,
                    "message": "time_to_fill returned 100, expected 0.3333", "hint": "Arrivals fill the pool.",
                    "hidden": False},
    }
    row = {"index": index, "student": student, "file": file or f"/subs/{student}.ipynb", "exercise": exercise,
           "status": status, "reason": reason, "checks": checks,
           "total": sum(c["points"] for c in checks.values()), "maximum": sum(c["max"] for c in checks.values()),
           "restored": list(restored), "cell_errors": list(cell_errors), "seconds": 1.5}
    if flags is not None:
        row["flags"] = flags
    return row


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def pre_blocks(page):
    return [html.unescape(block) for block in re.findall(r"<pre>(.*?)</pre>", page, re.S)]


# ---------------------------------------------------------------- grades.csv: no formulas


FORMULAS = ['=HYPERLINK("http://x","click")', "+1+1", "-2", "@SUM(A1)", "\tstudent", "\r=1+1"]


def test_string_cells_that_would_start_a_formula_get_an_apostrophe():
    for value in FORMULAS:
        assert spreadsheet_safe(value) == "'" + value
    for value in ["ada", "Ada Lovelace", "", "'quoted", "a=b", "1+1", "O'Brien"]:
        assert spreadsheet_safe(value) == value
    for number in [0, 3, 2.5, -2]:  # numbers stay numbers, never prefixed
        assert spreadsheet_safe(number) == number


def test_csv_neutralises_every_student_controlled_cell_and_keeps_numbers(tmp_path):
    rows = [make_row(i, name, file=f"-{i}/{name}.ipynb", exercise="=1+1", status="crashed", reason="@cmd|' /C calc'!A0",
                     flags=["=flagged"]) for i, name in enumerate(FORMULAS)]
    rows.append(make_row(len(rows), "ada"))
    write_all(rows, tmp_path)
    table = read_csv(tmp_path / "grades.csv")
    assert table[0] == FIXED + ["l1-pool", "l1-fill"] + TAIL
    for line, name in zip(table[1:], FORMULAS):
        student, file, exercise, pool, fill, total, maximum, status, reason, flags = line
        assert student == "'" + name and flags == "'=flagged"
        assert file.startswith("'-") and exercise == "'=1+1" and reason == "'@cmd|' /C calc'!A0"
        assert (pool, fill, total, maximum, status) == ("3", "0", "3", "5", "crashed")
    assert table[-1] == ["ada", "/subs/ada.ipynb", "01-cascading-failures", "3", "0", "3", "5", "ok", "", ""]
    # grades.json is data: it keeps the raw values
    data = json.loads((tmp_path / "grades.json").read_text(encoding="utf-8"))
    assert [r["student"] for r in data["rows"]] == FORMULAS + ["ada"]
    assert data["rows"][0]["exercise"] == "=1+1" and data["rows"][0]["reason"] == "@cmd|' /C calc'!A0"
    assert data["rows"][0]["file"] == "-0/" + FORMULAS[0] + ".ipynb"


# ---------------------------------------------------------------- feedback pages: escaped


def test_feedback_page_escapes_everything_and_keeps_multi_line_messages_as_pre():
    script = "<script>alert(1)</script>"
    checks = {
        "l4-trace": {"points": 0, "max": 2, "passed": False, "reached": True, "message": TRACE, "hint": "<b>h</b>",
                     "hidden": False},
        "l4-xss": {"points": 0, "max": 1, "passed": False, "reached": True, "message": script, "hint": "",
                   "hidden": False},
    }
    row = make_row(0, "<img src=x onerror=alert(1)>", file="<script>f</script>.ipynb", exercise=script,
                   status="crashed", reason=f"{script}\nsecond line", checks=checks,
                   restored=[f"restored {script}"], cell_errors=[{"cell": 3, "error": f"NameError: {script}"}],
                   flags=[f"flag {script}", "<img src=y>"])
    page = feedback_page(row)
    assert "<script" not in page.lower() and "<img" not in page.lower() and "<b>h</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6  # exercise, reason, message, restored, error, flag
    # the trace table keeps its lines and columns, in a <pre>
    assert TRACE in pre_blocks(page)
    assert f"{script}\nsecond line" in pre_blocks(page)  # a multi-line reason too
    # a one-line message stays inline
    assert "time_to_fill returned 100, expected 0.3333" not in "".join(pre_blocks(page))
    assert "flag &lt;script&gt;" in page


def test_one_line_messages_stay_inline_and_rows_without_flags_are_fine(tmp_path):
    row = make_row(0, "ada")
    assert "flags" not in row
    page = feedback_page(row)
    assert "<span>time_to_fill returned 100, expected 0.3333</span>" in page and "<pre>" not in page
    assert "hint: Arrivals fill the pool." in page
    write_all([row], tmp_path)
    assert json.loads((tmp_path / "grades.json").read_text())["rows"][0]["flags"] == []


def test_flags_are_shown_and_kept_in_json(tmp_path):
    row = make_row(0, "ada", flags=["check cell edited", "ran for 9 s"])
    page = feedback_page(row)
    assert "<li><span>check cell edited</span></li>" in page and "ran for 9 s" in page
    write_all([row], tmp_path)
    flags = json.loads((tmp_path / "grades.json").read_text())["rows"][0]["flags"]
    assert flags == ["check cell edited", "ran for 9 s"]


def test_page_names_stay_inside_feedback(tmp_path):
    names = ["../../etc/passwd", "..", ".hidden", "/abs/path", "a\\..\\b", "", "<img src=x>"]
    rows = [make_row(i, name, file=f"../{name}.ipynb") for i, name in enumerate(names)]
    for row in rows:
        name = page_name(row)
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*-\d{4}\.html", name), name
    assert page_name(rows[0]).startswith("_.._etc_passwd")
    out = tmp_path / "out"
    write_all(rows, out)
    feedback = (out / "feedback").resolve()
    pages = sorted(feedback.iterdir())
    assert len(pages) == len(rows) and all(p.resolve().parent == feedback for p in pages)
    assert sorted(p.name for p in out.iterdir()) == ["feedback", "grades.csv", "grades.json"]
    assert not (tmp_path / "etc").exists()


# ---------------------------------------------------------------- hidden checks


def test_hidden_check_shows_id_points_result_and_hint_but_not_its_message(tmp_path):
    secret = "student(7, 13, 0.25) returned 2, expected 4"
    checks = {
        "l1-pool": {"points": 3, "max": 3, "passed": True, "reached": True, "message": "", "hint": "", "hidden": False},
        "l1-hidden-exact": {"points": 0, "max": 2, "passed": False, "reached": True, "message": secret,
                            "hint": "Arrivals, not completions.", "hidden": True},
        "l1-hidden-ok": {"points": 1, "max": 1, "passed": True, "reached": True, "message": "", "hint": "",
                         "hidden": True},
    }
    row = make_row(0, "ada", checks=checks)
    page = feedback_page(row)
    assert secret not in page and html.escape(secret) not in page and "7, 13, 0.25" not in page
    assert "l1-hidden-exact <small>(instructor check)</small></td><td>0 / 2</td>" in page
    assert "<span class='fail'>fail</span>" in page and "hint: Arrivals, not completions." in page
    assert "l1-hidden-ok <small>(instructor check)</small></td><td>1 / 1</td><td><span class='pass'>" in page
    write_all([row], tmp_path)
    data = json.loads((tmp_path / "grades.json").read_text())
    assert data["rows"][0]["checks"]["l1-hidden-exact"]["message"] == secret
    assert secret not in (tmp_path / data["rows"][0]["feedback"]).read_text()


# ---------------------------------------------------------------- grading twice into one folder


def set_mtime(out, when):
    stamp = time.mktime(when.timetuple())
    for name in ("grades.csv", "grades.json"):
        os.utime(out / name, (stamp, stamp))


def test_a_new_run_keeps_the_earlier_runs_outputs_together(tmp_path):
    out = tmp_path / "grades"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "mine.txt").write_text("the instructor's notes")
    (out / "regrade.sh").write_text("resilience-lab grade ...")
    assert write_all([make_row(0, "ada"), make_row(1, "bob")], out) is None
    first = {name: (out / name).read_bytes() for name in ("grades.csv", "grades.json")}
    first_pages = sorted(p.name for p in (out / "feedback").iterdir())
    set_mtime(out, datetime(2026, 3, 1, 9, 30, 5))

    kept = write_all([make_row(0, "cy")], out)
    assert kept == out / "earlier" / "20260301-093005"
    assert [line[0] for line in read_csv(out / "grades.csv")[1:]] == ["cy"]
    assert [r["student"] for r in json.loads((out / "grades.json").read_text())["rows"]] == ["cy"]
    assert sorted(p.name for p in (out / "feedback").iterdir()) == [page_name(make_row(0, "cy"))]
    # the first run, all three kinds of output, intact
    assert {name: (kept / name).read_bytes() for name in ("grades.csv", "grades.json")} == first
    assert sorted(p.name for p in (kept / "feedback").iterdir()) == first_pages
    for entry in json.loads((kept / "grades.json").read_text())["rows"]:  # its links still work
        assert "Feedback: " + entry["student"] in (kept / entry["feedback"]).read_text()
    # what the user wrote is left alone
    assert (out / "notes" / "mine.txt").read_text() == "the instructor's notes"
    assert (out / "regrade.sh").exists()
    assert sorted(p.name for p in out.iterdir()) == ["earlier", "feedback", "grades.csv", "grades.json", "notes",
                                                    "regrade.sh"]

    # a third run keeps both earlier runs
    set_mtime(out, datetime(2026, 3, 2, 14, 0, 0))
    second = (out / "grades.csv").read_bytes()
    kept_again = write_all([make_row(0, "dee")], out)
    assert kept_again == out / "earlier" / "20260302-140000"
    assert sorted(p.name for p in (out / "earlier").iterdir()) == ["20260301-093005", "20260302-140000"]
    assert (kept / "grades.csv").read_bytes() == first["grades.csv"]
    assert (kept_again / "grades.csv").read_bytes() == second
    assert [line[0] for line in read_csv(out / "grades.csv")[1:]] == ["dee"]


def test_runs_in_the_same_second_get_numbered_folders(tmp_path):
    when = datetime(2026, 3, 1, 9, 30, 5)
    kept = []
    for name in ["ada", "bob", "cy", "dee"]:
        kept.append(write_all([make_row(0, name)], tmp_path))
        set_mtime(tmp_path, when)
    assert kept == [None, tmp_path / "earlier" / "20260301-093005", tmp_path / "earlier" / "20260301-093005-2",
                    tmp_path / "earlier" / "20260301-093005-3"]
    assert [read_csv(folder / "grades.csv")[1][0] for folder in kept[1:]] == ["ada", "bob", "cy"]


def test_any_leftover_output_counts_as_an_earlier_run(tmp_path):
    (tmp_path / "feedback").mkdir()
    (tmp_path / "feedback" / "old-0001.html").write_text("old")
    kept = write_all([make_row(0, "ada")], tmp_path)
    assert kept is not None and kept.parent == tmp_path / "earlier"
    assert (kept / "feedback" / "old-0001.html").read_text() == "old"
    assert not (tmp_path / "feedback" / "old-0001.html").exists()
    assert len(list((tmp_path / "feedback").iterdir())) == 1


def test_write_all_makes_the_folder(tmp_path):
    out = tmp_path / "a" / "b"
    assert write_all([], out) is None
    assert read_csv(out / "grades.csv") == [FIXED + TAIL]
    assert json.loads((out / "grades.json").read_text())["rows"] == []
    assert list((out / "feedback").iterdir()) == []
    assert isinstance(write_all([], str(out)), Path)


def test_the_stamp_is_the_earlier_grades_json_time_else_grades_csv(tmp_path):
    write_all([make_row(0, "ada")], tmp_path)
    os.utime(tmp_path / "grades.json", (time.mktime((2026, 1, 2, 3, 4, 5, 0, 0, -1)),) * 2)
    os.utime(tmp_path / "grades.csv", (time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, -1)),) * 2)
    assert write_all([make_row(0, "bob")], tmp_path).name == "20260102-030405"
    (tmp_path / "grades.json").unlink()
    os.utime(tmp_path / "grades.csv", (time.mktime((2026, 5, 6, 7, 8, 9, 0, 0, -1)),) * 2)
    kept = write_all([make_row(0, "cy")], tmp_path)
    assert kept.name == "20260506-070809"
    assert sorted(p.name for p in kept.iterdir()) == ["feedback", "grades.csv"]
