# The two set-up commands from the README. Both install what they need on a fresh machine.
PYTHON ?= python3

.PHONY: install test docs train

install:
	$(PYTHON) -m pip install -q -e ".[test]"

# Default test suite (< 10 minutes on 2 cores), then the documentation with warnings as errors.
test: install
	$(PYTHON) -m pytest -q -m "not slow" -n 2
	$(PYTHON) -m sphinx -W -q -b html docs docs/_build/html

docs: install
	$(PYTHON) -m sphinx -W -q -b html docs docs/_build/html

# Train the example CNN on the real Fashion-MNIST (Debian's dataset-fashion-mnist; no network
# beyond the package registries needed).
train:
	@test -d /usr/share/datasets/fashion-mnist || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)
	$(PYTHON) -m pip install -q -e .
	$(PYTHON) examples/mnist.py --model cnn --epochs 2 --data-dir /usr/share/datasets/fashion-mnist
