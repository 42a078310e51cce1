# Fresh machine: `make demo` sets up a virtualenv and runs the mnist pipeline;
# `make test` sets it up and runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The shared datasets beside the checkout, unless PIPELINES_DATA_DIR is already set.
export PIPELINES_DATA_DIR ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets),)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo test test-fast bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# The main job: train and evaluate the mnist pipeline. Without the MNIST files and offline,
# it runs on scikit-learn's bundled digits instead, and the report says so.
demo: setup
	$(BIN)/pipelines run mnist --fallback-dataset digits

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/python benchmarks/mnist.py

clean:
	rm -rf $(VENV) reports .pytest_cache
