"""One submission cannot reach another, the instructor's files, or the grades.

Each attack here is a notebook built at test time (it needs this run's absolute
paths: a classmate's file, the ``--out`` folder, the hidden checks), graded in
one batch beside an honest classmate. In the sandbox every attack earns nothing
and leaves nothing behind; the first test shows the same stealing notebook
earning full marks when graded without the sandbox, so the others are not
passing for want of a working attack.

These tests need bubblewrap; CI installs it and sets REQUIRE_SANDBOX=1, which
turns a missing ``bwrap`` into an error instead of a skip.
"""

import importlib.util
import json
import os
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from resilience_lab import cli
from resilience_lab.grading import Limits, SandboxUnavailable, grade, runner, sandbox

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "exercises"
EXTRA = ROOT / "tests" / "grading_corpus" / "extra_checks.py"
LIMITS = Limits(cell_timeout=20, notebook_timeout=120, memory=1024**3, output=200_000)
SECRET = "instructor-secret-" + secrets.token_hex(6)
MARK = "rl-escape-" + secrets.token_hex(6)

pytestmark = pytest.mark.skipif(not sandbox.available(), reason="bubblewrap (bwrap) is not available here")


def _build_module():
    spec = importlib.util.spec_from_file_location("corpus_build", ROOT / "tests" / "grading_corpus" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()

STEAL = '''import json, math

def _steal(name, path={path!r}):
    space = {{"math": math}}
    for cell in json.load(open(path))["cells"]:
        source = "".join(cell["source"])
        if source.startswith("def "):
            exec(source.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""), space)
    return space[name]

def max_throughput(workers, latency):
    return _steal("max_throughput")(workers, latency)
'''


def stealing(path):
    """Every answer copied, at grading time, from the notebook at ``path``."""
    code = {"cell-04": STEAL.format(path=str(path))}
    for cell_id, name, args in [("cell-07", "time_to_fill", "workers, arrival_rate, latency"),
                                ("cell-10", "backlog", "workers, arrival_rate, latency, duration"),
                                ("cell-13", "breaking_latency", "workers, arrival_rate")]:
        code[cell_id] = f"def {name}({args}):\n    return _steal({name!r})({args})"
    return build.with_code(code)


def escaping(out):
    """Processes that try to outlive grading (double fork, new session) and then
    rewrite the grades, plus files left in /tmp and beside the grading folder."""
    script = textwrap.dedent(f"""
        import os, subprocess, sys, time
        subprocess.Popen(["sleep", "300", "{MARK}"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(3)
                for name in ("grades.csv", "grades.json"):
                    try:
                        open(os.path.join({str(out)!r}, name), "w").write("student,total\\nmallory,10\\n")
                    except OSError:
                        pass
                os._exit(0)
            os._exit(0)
        for place in ("/tmp", os.path.dirname(os.getcwd()), os.path.expanduser("~")):
            try:
                open(os.path.join(place, "{MARK}"), "w").write("left behind")
            except OSError:
                pass
        """)
    notebook = build.with_code(build.RIGHT)
    return build.insert_after(notebook, "cell-02", script, "escape")


def snooping():
    """Reads what the instructor keeps: the environment, the hidden checks' file,
    and any file on the machine holding the hidden checks' marker; answers with it."""
    code = textwrap.dedent(f"""
        import os
        def _loot():
            found = [os.environ.get("RL_INSTRUCTOR_SECRET", "")]
            try:
                found.append(open({str(EXTRA)!r}).read())
            except OSError:
                pass
            for top in ("/tmp", "/work", "/root", "/home"):
                for folder, _, files in os.walk(top):
                    for name in files:
                        if name.endswith(".py"):
                            try:
                                text = open(os.path.join(folder, name)).read()
                            except (OSError, UnicodeDecodeError):
                                continue
                            if "HIDDEN-CHECK-" + "CODE" in text:
                                found.append(text)
            return "|".join(found)

        def max_throughput(workers, latency):
            return _loot() or workers / latency
        """)
    notebook = build.with_code({**build.RIGHT, "cell-04": code})
    return build.insert_after(notebook, "cell-04", "raise RuntimeError('LEAK ' + _loot())", "leak")


def vandal():
    """Tries to change what grades everyone else: the package the sandbox sees,
    and any other grading folder it can find."""
    script = textwrap.dedent("""
        import glob, os, resilience_lab
        root = os.path.dirname(resilience_lab.__file__)
        hits = []
        for path in glob.glob(os.path.join(root, "**", "*.py*"), recursive=True) + glob.glob("/tmp/rl-grade*/**", recursive=True):
            try:
                with open(path, "a") as handle:
                    handle.write("\\nraise SystemExit('vandalised')\\n")
                hits.append(path)
            except OSError:
                pass
        assert not hits, hits
        """)
    return build.insert_after(build.with_code(build.WRONG), "cell-02", script, "vandal")


def networking(port):
    """Tries to reach a server the test runs on this machine's loopback."""
    script = (f"import socket\nwith socket.create_connection(('127.0.0.1', {port}), timeout=3) as s:\n"
              f"    s.sendall(b'hello')\nraise RuntimeError('CONNECTED')")
    return build.insert_after(build.with_code(build.RIGHT), "cell-02", script, "network")


@pytest.fixture(scope="module")
def listener():
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            accepted.append(connection)

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory, listener):
    folder = tmp_path_factory.mktemp("isolation")
    subs, out = folder / "subs", folder / "grades"
    subs.mkdir()
    victim = subs / "victim.ipynb"
    notebooks = {
        "vandal.ipynb": vandal(),
        "victim.ipynb": build.with_code(build.RIGHT),
        "thief.ipynb": stealing(victim),
        "solutions-reader.ipynb": stealing(ROOT / "solutions" / "01-cascading-failures.ipynb"),
        "escape.ipynb": escaping(out),
        "snoop.ipynb": snooping(),
        "network.ipynb": networking(listener[0]),
        '=HYPERLINK("evil.example","grades").ipynb': build.with_code(build.RIGHT),
    }
    for name, notebook in notebooks.items():
        nbformat.write(notebook, subs / name)
    os.environ["RL_INSTRUCTOR_SECRET"] = SECRET
    try:
        rows = grade([str(subs / name) for name in notebooks], out, release=RELEASE, workers=2,
                     extra_checks=[EXTRA], limits=LIMITS)
    finally:
        del os.environ["RL_INSTRUCTOR_SECRET"]
    finished = time.monotonic()
    return {"rows": {Path(r["file"]).name: r for r in rows}, "out": out, "subs": subs, "finished": finished,
            "csv": (out / "grades.csv").read_bytes(), "json": (out / "grades.json").read_bytes()}


def test_stealing_works_without_the_sandbox_so_the_attacks_are_real(batch, tmp_path):
    rows = grade([str(batch["subs"] / "thief.ipynb"), str(batch["subs"] / "solutions-reader.ipynb")],
                 tmp_path / "bare", release=RELEASE, workers=2, limits=LIMITS, sandboxed=False)
    assert [r["total"] for r in rows] == [10, 10], [(r["status"], r["reason"]) for r in rows]


def test_a_notebook_cannot_read_a_classmate_or_the_solutions(batch):
    for name in ("thief.ipynb", "solutions-reader.ipynb"):
        row = batch["rows"][name]
        assert row["total"] == 0, row
        assert all("FileNotFoundError" in e["message"] for e in row["checks"].values() if not e["hidden"]), row
    assert batch["rows"]["victim.ipynb"]["total"] == 13


def test_a_notebook_cannot_change_the_package_or_a_classmates_grading(batch):
    vandal = batch["rows"]["vandal.ipynb"]
    assert vandal["cell_errors"] == [], vandal["cell_errors"]  # its own assert: it changed nothing
    assert batch["rows"]["victim.ipynb"]["total"] == 13  # graded beside it, from the same package
    for folder in runner._pristine.values():
        assert not any("vandalised" in p.read_text() for p in Path(folder).rglob("*.py"))


def test_nothing_a_notebook_started_outlives_its_grading(batch):
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            if MARK.encode() in (proc / "cmdline").read_bytes():
                alive.append(proc.name)
        except OSError:
            continue
    assert alive == []


def test_nothing_a_notebook_wrote_is_left_and_the_grades_stay_as_written(batch):
    time.sleep(max(0.0, batch["finished"] + 4 - time.monotonic()))  # past the escapee's 3 s delay
    assert (batch["out"] / "grades.csv").read_bytes() == batch["csv"]
    assert (batch["out"] / "grades.json").read_bytes() == batch["json"]
    for place in ("/tmp", str(Path.home()), str(batch["subs"]), str(batch["out"])):
        assert not (Path(place) / MARK).exists(), place
    assert not [p for p in Path("/tmp").glob("rl-grade-*") if p.is_dir() and (p / MARK).exists()]
    assert batch["rows"]["escape.ipynb"]["total"] == 13


def test_hidden_checks_and_the_instructors_environment_do_not_leak(batch):
    row = batch["rows"]["snoop.ipynb"]
    everything = batch["json"].decode() + batch["csv"].decode() + "".join(
        p.read_text() for p in (batch["out"] / "feedback").glob("*.html"))
    assert SECRET not in everything
    assert "HIDDEN-CHECK-CODE" not in everything and "def check_one_worker" not in everything
    [error] = row["cell_errors"]
    assert error["error"].startswith("RuntimeError: LEAK") and SECRET not in error["error"]
    assert row["checks"]["l1-hidden-exact-fill"]["points"] == 2  # the sandbox does not break honest code


def test_a_notebook_has_no_network(batch, listener):
    [error] = batch["rows"]["network.ipynb"]["cell_errors"]
    assert "CONNECTED" not in error["error"] and ("Connection refused" in error["error"]
                                                  or "unreachable" in error["error"]), error
    assert listener[1] == []


def test_a_file_name_cannot_become_a_formula_in_the_spreadsheet(batch):
    import csv
    import io

    [row] = [r for r in csv.reader(io.StringIO(batch["csv"].decode())) if "HYPERLINK" in r[0]]
    assert row[0] == "'=HYPERLINK(\"evil.example\",\"grades\")", row
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row


def test_the_grader_refuses_without_bubblewrap_unless_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "_probe", lambda: "bubblewrap (the `bwrap` command) is not installed")
    notebook = tmp_path / "mine.ipynb"
    nbformat.write(build.with_code(build.RIGHT), notebook)
    with pytest.raises(SandboxUnavailable, match="--no-sandbox"):
        grade([str(notebook)], tmp_path / "out", release=RELEASE)
    assert cli.main(["grade", str(notebook), "--release", str(RELEASE), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "apt-get install bubblewrap" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert cli.main(["grade", str(notebook), "--release", str(RELEASE), "--out", str(tmp_path / "o"), "--quiet",
                     "--no-sandbox"]) == 0
    captured = capsys.readouterr()
    assert "without a sandbox" in captured.err and "10 / 10" in captured.out


GROWTH = """
import json, resource, sys
from resilience_lab.grading import Limits, grade
rows = grade([sys.argv[1]], sys.argv[2], release=sys.argv[3], workers=1,
             limits=Limits(cell_timeout=60, notebook_timeout=120, memory=3 * 1024**3, output=200_000))
print(json.dumps([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  rows[0]["status"], rows[0]["checks"]["l1-max-throughput"]["message"]]))
"""


def test_what_a_notebook_sends_back_cannot_swell_the_grader(tmp_path):
    """300 MB sent by the kernel in one output and 300 MB returned as an answer:
    the grader's own peak memory stays within 100 MiB of grading an honest notebook."""
    honest, flood = tmp_path / "honest.ipynb", tmp_path / "flood.ipynb"
    nbformat.write(build.with_code(build.RIGHT), honest)
    nbformat.write(build.insert_after(build.with_code({**build.RIGHT, "cell-04": (
        "def max_throughput(workers, latency):\n    return 'x' * 300_000_000")}), "cell-14",
        "from IPython.display import display\ndisplay({'text/plain': 'y' * 300_000_000}, raw=True)", "flood"), flood)
    peaks = []
    for path in (honest, flood):
        done = subprocess.run([sys.executable, "-c", GROWTH, str(path), str(tmp_path / path.stem), str(RELEASE)],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        peaks.append(json.loads(done.stdout.strip().splitlines()[-1]))
    (honest_peak, status, _), (flood_peak, flood_status, message) = peaks
    assert status == "ok" and flood_status == "output", peaks
    assert flood_peak < honest_peak + 100, peaks
