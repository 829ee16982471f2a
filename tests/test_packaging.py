"""Set-up files agree with each other: pins, the README's commands, CI."""

import re
import tomllib

import yaml


def pyproject_pins(root):
    return set(tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"])


def environment_pins(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {p for p in pip if not p.startswith("-e")}


def test_every_dependency_is_pinned(root):
    for pin in pyproject_pins(root):
        assert re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[0-9][0-9A-Za-z.]*", pin), pin


def test_environment_yml_lists_the_same_pins_as_pyproject(root):
    assert environment_pins(root) == pyproject_pins(root)


def test_environment_yml_python_meets_requires_python(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    required = tomllib.loads((root / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required == ">=3.11" and tuple(map(int, python.split("=")[1].split("."))) >= (3, 11)


def test_readme_quick_start_is_make_lab_and_make_test(root):
    readme = (root / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme


def test_ci_runs_the_readme_test_command_and_nothing_unexplained(root):
    commands = [
        line.strip() for line in (root / ".ci/run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
        and not line.startswith(("set ", "cd ", "export "))
    ]
    readme = (root / "README.md").read_text()
    for command in commands:
        assert command in readme, f".ci/run runs {command!r}, which the README does not mention"
    assert "make test" in commands


def test_the_console_script_is_declared(root):
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["resilience-lab"] == "resilience_lab.cli:main"


def _make(root, *args, **env):
    import os
    import subprocess

    return subprocess.run(["make", "--no-print-directory", "-C", str(root), *args], capture_output=True,
                           text=True, timeout=600, env={**os.environ, **env})


def test_make_grade_grades_one_notebook_as_the_exercises_say(root, tmp_path):
    import shutil

    notebook = tmp_path / "01-cascading-failures.ipynb"
    shutil.copy(root / "solutions" / notebook.name, notebook)
    done = _make(root, "grade", f"NB={notebook}", f"GRADE_OUT={tmp_path / 'out'}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^\s*(\d+) / \1\s", done.stdout, re.M), done.stdout  # full marks
    assert (tmp_path / "out" / "grades.csv").exists() and (tmp_path / "out" / "feedback").is_dir()
    assert notebook.read_bytes() == (root / "solutions" / notebook.name).read_bytes()  # read, never rewritten


def test_make_grade_without_a_notebook_says_how_to_use_it(root):
    done = _make(root, "grade")
    assert done.returncode != 0 and "usage: make grade NB=exercises/" in done.stdout


def test_make_lab_serves_the_repository_with_lesson_1_open_and_ships_the_no_news_setting(root):
    import json

    plan = _make(root, "-n", "lab").stdout
    assert f'--ServerApp.root_dir="{root}"' in plan
    assert "--LabApp.default_url=/lab/tree/notebooks/01-cascading-failures.ipynb" in plan
    settings = json.loads((root / "jupyter" / "overrides.json").read_text())
    assert settings["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}
