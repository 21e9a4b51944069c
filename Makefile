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

.PHONY: install test reproduce benchmark cluster-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

test: install
	$(PY) -m pytest -q

# Every table and figure of the paper under reports/ (default profile: the embedded benchmark).
# Rerunning it after a kill resumes: a dead run's stale locks are cleared (never a live run's) and
# the local workflow profile reruns incomplete jobs.
reproduce: install
	$(PY) -m taco.workflow_lock
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake --workflow-profile workflow/profiles/local --cores $(CORES) --configfile params/$(PROFILE).yaml

benchmark: install
	$(PY) scripts/benchmark_training.py

# A single-node SLURM on this machine (Debian's slurm-wlm + munge, needs root), the smoke profile
# through the SLURM executor plugin, reports compared with a local run.
cluster-check: install
	PYTHON=$(abspath $(PY)) bash scripts/cluster_check.sh

clean:
	rm -rf results .snakemake .pytest_cache
