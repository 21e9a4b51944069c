# Quickstart: `make reproduce` (the whole pipeline on the embedded benchmark) and `make test`.
# Both install what is missing first into $(VENV).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build of torch by default; override for GPUs, e.g. TORCH_SPEC="torch==2.13.0 --index-url ...".
TORCH_SPEC ?= torch==2.13.0
CORES ?= all
PROFILE ?= default

.PHONY: install test reproduce benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

test: install
	$(PY) -m pytest -q

reproduce: install
	$(PY) -m taco demo --out runs/demo

benchmark: install
	$(PY) scripts/benchmark_training.py

clean:
	rm -rf runs .pytest_cache
