# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both install into .venv/ first (once; again only when pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# PyTorch first, pinned: the CUDA build runs on CPU machines too.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test test-fast test-random lint install release kit bench lesson

demo: $(STAMP)          ## release the lesson and grade the sample class
	$(VENV)/bin/autograde demo

test: $(STAMP)          ## the whole test suite (what CI runs)
	$(PY) -m pytest

test-fast: $(STAMP)     ## unit and component tests: no whole-class grading, no venv builds
	$(PY) -m pytest -m "not slow"

test-random: $(STAMP)   ## the fast tier in a random order (the seed is printed: rerun with --randomly-seed=N)
	$(PY) -m pytest -m "not slow" -p randomly

lint: $(STAMP)          ## ruff on the repository, mypy on autograde/ (both configured in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[grader,test]'   # the student set, the grader's extra and the tests
	touch $(STAMP)

release: $(STAMP)       ## regenerate lessons/ from solutions/
	$(VENV)/bin/autograde release

kit: $(STAMP)           ## dist/accel_sgd-student.zip: what students get (no solutions)
	$(VENV)/bin/autograde kit

lesson: $(STAMP)        ## run the whole solutions notebook as a student would (minutes)
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=3600 \
	  --output-dir out/lesson solutions/accel_sgd/accel_sgd.ipynb

bench: $(STAMP)         ## all benchmarks, written to BENCHMARKS.md
	$(PY) bench/run_all.py
