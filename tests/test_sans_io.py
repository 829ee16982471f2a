"""The pattern cores are sans-I/O: no simpy, asyncio, ipywidgets, nor a clock."""

import ast
import subprocess
import sys
from pathlib import Path

import resilience_lab.patterns as patterns

FORBIDDEN_MODULES = {"simpy", "asyncio", "ipywidgets", "time", "threading", "datetime"}
PATTERN_FILES = sorted(Path(patterns.__file__).parent.glob("*.py"))


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def test_there_are_pattern_modules_to_check():
    assert len(PATTERN_FILES) >= 2


def test_no_pattern_module_imports_io_or_a_clock():
    offenders = {
        f"{path.name}: {module}"
        for path in PATTERN_FILES
        for module in imported_modules(path)
        if module in FORBIDDEN_MODULES
    }
    assert not offenders


def test_importing_the_patterns_loads_no_simulation_or_widgets():
    code = (
        "import sys, resilience_lab.patterns\n"
        "bad = {'simpy', 'asyncio', 'ipywidgets'} & set(sys.modules)\n"
        "print(sorted(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
