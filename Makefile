# Two commands do all set-up on a fresh machine (both create .venv when it is missing):
#   make build   train on the bundled default data and build for the default board
#                (build/icebreaker/; BOARD=ulx3s make build for another board)
#   make test    run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BOARD ?= ice40

.PHONY: build test lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

build: $(VENV)/.installed
	$(PY) -m qnnhw build --board $(BOARD)

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check qnnhw hdl sim boards tests bench

clean:
	rm -rf build sim_build .pytest_cache
