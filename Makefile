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

# mypy checks the package as it is imported: qnnhw/ with hdl/, sim/ and boards/ inside it
# (pyproject maps them there), seen through a folder of symbolic links.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check qnnhw hdl sim boards tests bench
	rm -rf .lint && mkdir -p .lint/qnnhw
	for entry in qnnhw/*; do ln -s "$(CURDIR)/$$entry" .lint/qnnhw/; done
	for package in hdl sim boards; do ln -s "$(CURDIR)/$$package" .lint/qnnhw/$$package; done
	cd .lint && ../$(VENV)/bin/mypy --config-file ../pyproject.toml qnnhw

clean:
	rm -rf build sim_build .pytest_cache .lint
