# Two commands for a fresh machine: `make train` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The exact versions the recipes were recorded with (docs/install.md); LOCK= installs from the
# ranges in pyproject.toml alone.
LOCK   ?= requirements/lock.txt
export PYTHONHASHSEED ?= 0

.PHONY: install lock train prepare reproduce notebooks test test-slow lint docs docs-serve clean-logs

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(LOCK),-c $(LOCK)) -e ".[dev]"
	touch $(STAMP)

# Prebuild the fused GRU kernel (model.rnn=fused) for this CPU's x86-64 level and the installed
# TensorFlow, into ~/.cache/seq2seq/kernels ($$SEQ2SEQ_KERNEL_CACHE); the first import would
# build it otherwise. If no compiler works, build.py says so and the layer uses plain TensorFlow
# ops (slower, same numbers).
KERNEL := $(VENV)/.kernel-prebuilt
$(KERNEL): seq2seq/layers/kernels/gru_sequence.cc seq2seq/layers/kernels/build.py $(STAMP)
	$(BIN)/python seq2seq/layers/kernels/build.py
	touch $(KERNEL)

install: $(STAMP) $(KERNEL)

## Re-resolve requirements/lock.txt from pyproject.toml, keeping its versions where they still
## fit (one lock for Python 3.11-3.13; setuptools 65.5, the recorded one, cannot run on 3.12, so
## the lock has one version below 3.12 and one from it): make lock ARGS="--upgrade-package numpy"
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet "uv>=0.9,<1"
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		-c requirements/lock.txt --no-header --annotation-style line $(ARGS) -o requirements/lock.tmp
	{ sed -n '/^#/p' requirements/lock.txt; sed -E 's/-c requirements\/lock.txt, //; s/, -c requirements\/lock.txt//' requirements/lock.tmp; } \
		> requirements/lock.new && mv requirements/lock.new requirements/lock.txt && rm requirements/lock.tmp

## Run the default experiment (G2P on CMUdict, ~10 min on 2 CPU cores).
## Extra Hydra overrides: make train ARGS="train.max_steps=100"
train: $(STAMP) $(KERNEL)
	$(BIN)/seq2seq-train experiment=g2p_cmudict $(ARGS)

## Only build tokenizers and padding statistics for the default data.
prepare: $(STAMP)
	$(BIN)/seq2seq-prepare $(ARGS)

## Re-run an experiment's recorded runs (experiments/$(EXP)/reproduce.yaml), compare them with
## its results.json and regenerate its README table: make reproduce EXP=g2p_cmudict
## Quick check at debug=smoke size (table printed, nothing rewritten): ARGS=--smoke
reproduce: $(STAMP) $(KERNEL)
	@test -n "$(EXP)" || { echo "usage: make reproduce EXP=<experiments/ dir> [ARGS=--smoke]" >&2; exit 2; }
	$(BIN)/seq2seq-reproduce $(EXP) $(ARGS)

## JupyterLab on notebooks/ (installs the `notebooks` extra: JupyterLab, papermill, the kernel).
## Headless, with parameters: docs/notebooks.md. Extra options: make notebooks ARGS="--no-browser"
NOTEBOOKS_STAMP := $(VENV)/.notebooks
$(NOTEBOOKS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $(if $(LOCK),-c $(LOCK)) -e ".[dev,notebooks]"
	touch $(NOTEBOOKS_STAMP)

notebooks: $(NOTEBOOKS_STAMP) $(KERNEL)
	PROJECT_ROOT=$(CURDIR) $(BIN)/jupyter lab --notebook-dir=notebooks $(ARGS)

## The default (fast) test suite, after lint and a strict docs build; this is what CI runs.
## One pytest-xdist worker per core (TEST_WORKERS=0: one process), a test module per worker.
TEST_WORKERS ?= auto
test: lint docs $(KERNEL)
	$(BIN)/python -m pytest -m "not slow" -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

## The slow tests (end-to-end experiments, sweeps).
test-slow: $(STAMP) $(KERNEL)
	$(BIN)/python -m pytest -m slow -q $(ARGS)

## The documentation site (MkDocs Material) into site/, strictly: a broken link fails.
docs: $(STAMP)
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: $(STAMP)
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

clean-logs:
	rm -rf logs/

## Lint: ruff (rules and format) and the import-layer contracts (pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check seq2seq hydra_plugins tests benchmarks docs/gen_config_reference.py
	$(BIN)/ruff format --check seq2seq hydra_plugins tests benchmarks docs/gen_config_reference.py
	$(BIN)/lint-imports
