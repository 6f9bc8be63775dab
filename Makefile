# gluon_pydmn — set-up, tests and the paper's experiments.
#   make install            .venv with pinned dependencies and this package
#   make reproduce-table3   the main job: results/table3.md and results/table3.csv (then figure2)
#   make test               unit tests (real data, real weights)
#   make test-slow          also the slow tests (full test-set errors of all 44 checkpoints)
#   make figure2            Figure 2 (error against #params and FLOPs) from results/table3.csv
#   make benchmark          training/inference timing of Table 5's networks: results/benchmark.md
#   make train MODEL=pydmobilenet_concat_56_0.75 [DATASET=cifar10] [TRAIN_ARGS="--epochs 10"]
#                           train with the paper's schema into runs/MODEL-DATASET (resumable)
#   make sweep [SWEEP_ARGS="--address auto ..."]
#                           Table 3 by training: the 44 runs as Ray tasks into runs/sweep (resumable)
#
# Locations (override on the command line or in the environment):
#   SHARED                   a folder with data/cifar/materialize.py and the authors' release
#                            under reference/ (this project's ../shared); used when present
#   GLUON_PYDMN_DATA         CIFAR archives/folders (filled by `make data`)
#   GLUON_PYDMN_WEIGHTS      authors' release layout or converted weights
#   GLUON_PYDMN_PAPER_TABLES the paper's tables as JSON
#   GLUON_PYDMN_CACHE        extraction cache, resumable work folders

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared

export GLUON_PYDMN_CACHE ?= $(HOME)/.cache/gluon_pydmn
export GLUON_PYDMN_DATA ?= $(GLUON_PYDMN_CACHE)/data
RELEASE := $(SHARED)/reference/pydmobilenet_mxnet
export GLUON_PYDMN_WEIGHTS ?= $(if $(wildcard $(RELEASE)),$(abspath $(RELEASE)),$(GLUON_PYDMN_CACHE)/release)
export GLUON_PYDMN_PAPER_TABLES ?= $(abspath $(SHARED)/reference/paper_tables.json)
# MXNet would otherwise run one OpenMP thread on a 2-core machine (it reserves a core).
export OMP_NUM_THREADS ?= $(shell nproc)

.PHONY: install data weights pretrained test test-slow reproduce-table3 figure2 benchmark train sweep clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -e .
	$(BIN)/python -c 'from gluon_pydmn.ops import build_extension; print(build_extension())'
	touch $@

# CIFAR-10/100, official binary files and archives: from $(SHARED) when present, else downloaded.
data: install
	@if [ -f "$(SHARED)/data/cifar/materialize.py" ]; then \
	  [ -f "$(GLUON_PYDMN_DATA)/.materialized" ] || { \
	    $(BIN)/python "$(SHARED)/data/cifar/materialize.py" "$(GLUON_PYDMN_DATA)" --archives && \
	    touch "$(GLUON_PYDMN_DATA)/.materialized"; }; \
	else \
	  $(BIN)/python -m gluon_pydmn.data download "$(GLUON_PYDMN_DATA)"; \
	fi

# The authors' released checkpoints (release layout, converted on load).
weights: install
	@if [ ! -d "$(GLUON_PYDMN_WEIGHTS)" ]; then \
	  $(BIN)/python -m gluon_pydmn.pretrained download "$(GLUON_PYDMN_WEIGHTS)"; fi

# Fetch the authors' release (internet) and convert it into this package's own files.
pretrained: install
	$(BIN)/python -m gluon_pydmn.pretrained download "$(GLUON_PYDMN_CACHE)/release"
	$(BIN)/python -m gluon_pydmn.pretrained convert "$(GLUON_PYDMN_CACHE)/release" "$(GLUON_PYDMN_CACHE)/weights"

test: data weights
	$(BIN)/python -m pytest tests

test-slow: data weights
	$(BIN)/python -m pytest tests -m "slow or not slow"

reproduce-table3: data weights
	$(BIN)/python experiments/reproduce_table3.py --out-dir results
	$(MAKE) --no-print-directory figure2

figure2: install
	$(BIN)/python experiments/plot_figure2.py --table3 results/table3.csv --out results/figure2.png

benchmark: data weights
	$(BIN)/python experiments/benchmark.py --out results/benchmark.md

DATASET ?= cifar10
train: data
	@test -n "$(MODEL)" || { echo 'usage: make train MODEL=<zoo name> [DATASET=cifar10|cifar100-fine|cifar100-coarse] [TRAIN_ARGS=...]'; exit 2; }
	$(BIN)/python experiments/train.py --model $(MODEL) --dataset $(DATASET) $(TRAIN_ARGS)

sweep: data
	$(BIN)/python experiments/sweep.py $(SWEEP_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
