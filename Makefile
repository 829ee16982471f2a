# resilience-lab: `make lab` to learn, `make test` to check everything.
# Both create .venv (with the pinned dependencies and this package) when it is
# missing or when pyproject.toml has changed, and reuse it otherwise.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FIRST_LESSON := notebooks/01-cascading-failures.ipynb
# JupyterLab reads an environment's default settings from here; overrides.d/ holds
# one file per package, so the course's settings never replace anyone else's.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.d/resilience-lab.json
# Jupyter refuses to run as root (containers, Binder-like machines) without this flag.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test grade exercises bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "resilience-lab needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

# The course's JupyterLab settings: no "fetch news?" prompt, no update check.
$(LAB_SETTINGS): jupyter/overrides.json $(STAMP)
	mkdir -p $(dir $@)
	cp jupyter/overrides.json $@

# The whole course is served (lessons, exercises, solutions), with lesson 1 open.
# LAB_ARGS: more options for jupyter lab, e.g. LAB_ARGS=--no-browser.
LAB_ARGS ?=
lab: $(STAMP) $(LAB_SETTINGS)
	$(BIN)/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/$(FIRST_LESSON) $(LAB_ARGS)

# Your score before you hand in: make grade NB=exercises/01-cascading-failures.ipynb
# (in the bubblewrap sandbox when bwrap is installed; your own work needs none).
GRADE_OUT ?= grades/self
grade: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make grade NB=exercises/01-cascading-failures.ipynb"; exit 2; }
	$(BIN)/resilience-lab grade $(if $(shell command -v bwrap),,--no-sandbox) --out "$(GRADE_OUT)" "$(NB)"

# The suite runs in TEST_WORKERS processes (default: one per core), a test file at a
# time each, so the slow files (the browser tests, the mutation suite, the grading
# corpus) run beside each other and a notebook's cells stay in one kernel, in order.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

exercises: $(STAMP)
	$(BIN)/resilience-lab make-exercises

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV)
