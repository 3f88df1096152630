# The two set-up commands from the README (`make train`, `make test`). Both work on a bare
# Debian/Ubuntu machine: everything is installed into a virtual environment in the checkout
# (.venv, made on first use from the `python3` first on the PATH, reused afterwards), so
# Debian's own Python (PEP 668: no pip into it), pyenv, an activated venv and conda all work.
# `make PYTHON=/path/to/python test` uses that interpreter's environment instead (no .venv).

BASE_PYTHON ?= python3
VENV ?= .venv
# The extras `make test` installs: the test tools and PyTorch, the tests' reference.
TEST_EXTRAS ?= test,reference
ifdef PYTHON
STAMP_DIR := build/make-stamps
else
PYTHON := $(VENV)/bin/python
STAMP_DIR := $(VENV)
endif

# Debian's dataset-fashion-mnist puts the IDX files here (dpkg -L dataset-fashion-mnist).
DEBIAN_FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: install install-test test docs train venv clean-venv wheelhouse

venv: $(PYTHON)

$(VENV)/bin/python:
	@$(BASE_PYTHON) -c "import ensurepip, venv" 2>/dev/null || { \
	  v=$$($(BASE_PYTHON) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'); \
	  echo "make: $(BASE_PYTHON) (Python $$v) cannot create virtual environments: its venv/ensurepip"; \
	  echo "modules are missing. On Debian or Ubuntu install them with:"; \
	  echo "    sudo apt-get install python3-venv      (or python$$v-venv)"; \
	  echo "then run make again. Or choose another interpreter: make BASE_PYTHON=/path/to/python3.11"; \
	  exit 1; }
	$(BASE_PYTHON) -m venv $(VENV)
	@# A current pip: Debian's (23.0) resolves these dependencies many times slower.
	$(VENV)/bin/python -m pip install -q --upgrade pip

# Re-installed only when pyproject.toml changes (the stamp is older than it). The stamp
# carries the time the installation started, so an edit made meanwhile is not missed.
$(STAMP_DIR)/.installed: pyproject.toml | $(PYTHON)
	@mkdir -p $(STAMP_DIR) && touch $@.new
	$(PYTHON) -m pip install -q -e .
	@mv $@.new $@

$(STAMP_DIR)/.installed-test: pyproject.toml | $(PYTHON)
	@mkdir -p $(STAMP_DIR) && touch $@.new
	$(PYTHON) -m pip install -q -e ".[$(TEST_EXTRAS)]"
	@cp -p $@.new $(STAMP_DIR)/.installed && mv $@.new $@

install: $(STAMP_DIR)/.installed
install-test: $(STAMP_DIR)/.installed-test

# Default test suite (< 10 minutes on 2 cores), then the documentation with warnings as errors.
test: install-test
	$(PYTHON) -m pytest -q -m "not slow" -n 2
	$(PYTHON) -m sphinx -W -q -b html docs docs/_build/html

docs: install-test
	$(PYTHON) -m sphinx -W -q -b html docs docs/_build/html

# Train the example CNN on the real Fashion-MNIST for 2 epochs. The data comes from Debian's
# dataset-fashion-mnist (installed here when running as root), else from convnet's own
# checksummed download into ~/.convnet/datasets/fashion_mnist; when neither works, the example
# says where it looked and the one command that installs the data.
train: install
	@if [ ! -d $(DEBIAN_FASHION_MNIST) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's dataset-fashion-mnist..."; \
	  { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; } >/dev/null 2>&1 \
	    || echo "make: apt-get could not install dataset-fashion-mnist; trying convnet's download instead."; \
	fi
	$(PYTHON) examples/mnist.py --model cnn --epochs 2 --download

# Wheels for a GPU machine without internet (Python 3.12 by default; WHEELHOUSE_PYTHON=3.11
# for this machine's Python): convnet's own wheel and the dependencies such a machine lacks, in
# ./wheelhouse (git-ignored). benchmarks/gpu_check.sh installs from it.
WHEELHOUSE_PYTHON ?= 3.12
wheelhouse: install
	PYTHON=$(PYTHON) benchmarks/make_wheelhouse.sh --python $(WHEELHOUSE_PYTHON)

clean-venv:
	rm -rf $(VENV)
