# Fresh machine: `make demo` sets up a virtualenv and runs the mnist pipeline;
# `make test` sets it up and runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The shared datasets beside the checkout, unless PIPELINES_DATA_DIR is already set.
export PIPELINES_DATA_DIR ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets),)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo lint test test-fast mutants compat bench clean

setup: $(VENV)/.installed

# pip compiles the installed modules to bytecode one file at a time; compileall on every core
# does the same in less time (fresh venv: 44 s against 64 s, measured).
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e ".[test,export,tune,track,tensorboard]"
	$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
	touch $@

# The main job: train and evaluate the mnist pipeline. Without the MNIST files and offline,
# it runs on scikit-learn's bundled digits instead, and the report says so.
demo: setup
	$(BIN)/pipelines run mnist --fallback-dataset digits

# Lint, format and type checks take seconds; they run before the tests.
lint: setup
	$(BIN)/ruff check pipelines tests benchmarks
	$(BIN)/ruff format --check pipelines tests benchmarks
	$(BIN)/mypy pipelines

# Two worker processes, one per core (measured: 545 s against 885 s in one process). Whole test
# files go to one worker, so a module-scoped fixture is built once (with --dist loadgroup it was
# built twice); conftest.py deals the files with slow tests first.
PYTEST_WORKERS ?= -n 2 --dist loadfile

test: setup lint
	$(BIN)/python -m pytest -q $(PYTEST_WORKERS)

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_WORKERS)

# Plants deliberate bugs in core code, one at a time, and checks that the tests catch each
# (a few minutes; not part of CI).
mutants: setup
	$(BIN)/python tests/mutants.py

# The unit tests against the oldest and the newest supported scikit-learn, Keras and pandas,
# each in its own virtualenv (not part of CI).
compat:
	bash .ci/compat all

bench: setup
	$(BIN)/python benchmarks/mnist.py

clean:
	rm -rf $(VENV) .venv-compat-* reports .pytest_cache
