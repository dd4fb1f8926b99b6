# Two commands do all set-up on a fresh machine (both create .venv when it is missing):
#   make build   train on the bundled default data and build for the default board
#                (build/icebreaker/; BOARD=ulx3s make build for another board)
#   make test    run the fast test suite (every module at small sizes: minutes)
# and for the whole suite, with the real builds, large proofs and Verilator simulations:
#   make test-all
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BOARD ?= ice40

.PHONY: build test test-all lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

build: $(VENV)/.installed
	$(PY) -m qnnhw build --board $(BOARD)

# pytest-xdist spreads the tests over every core (-n auto).
test: $(VENV)/.installed
	$(PY) -m pytest -n auto -m "not slow"

test-all: $(VENV)/.installed
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -n auto

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check qnnhw hdl sim boards tests bench
	$(VENV)/bin/mypy qnnhw hdl sim boards

clean:
	rm -rf build sim_build .pytest_cache
