# DisTrackted developer entry points. Everything installs into ./.venv (created on first use).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_ROOT ?= $(DISTRACK_DATA_ROOT)
MODELS_ROOT ?= $(DISTRACK_MODELS_ROOT)

.PHONY: install test lint run check-data-root check-models-root

$(BIN)/distrack: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/distrack

check-data-root:
	@test -n "$(DATA_ROOT)" || { echo "Set DATA_ROOT=/path/to/datasets (or DISTRACK_DATA_ROOT)"; exit 2; }
	@test -d "$(DATA_ROOT)" || { echo "DATA_ROOT=$(DATA_ROOT) is not a folder"; exit 2; }

check-models-root:
	@test -n "$(MODELS_ROOT)" || { echo "Set MODELS_ROOT=/path/to/models (or DISTRACK_MODELS_ROOT)"; exit 2; }
	@test -d "$(MODELS_ROOT)" || { echo "MODELS_ROOT=$(MODELS_ROOT) is not a folder"; exit 2; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Lint, then the whole test suite against the real datasets under DATA_ROOT and the weights under MODELS_ROOT.
test: install check-data-root check-models-root lint
	DISTRACK_DATA_ROOT="$(abspath $(DATA_ROOT))" DISTRACK_MODELS_ROOT="$(abspath $(MODELS_ROOT))" $(BIN)/python -m pytest

## End to end on FSDD: list datasets, extract features, evaluate the random 10-per-class reference set.
run: install check-data-root
	$(BIN)/distrack --data-root "$(DATA_ROOT)" datasets list
	$(BIN)/distrack --data-root "$(DATA_ROOT)" evaluate --dataset fsdd --reference random --ipc 10
