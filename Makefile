# gluon_pydmn — set-up, tests and the paper's experiments. Each job target runs one subcommand
# of the package's command-line tool, $(BIN)/gluon-pydmn (`gluon-pydmn --help` lists them).
#   make install            .venv with pinned dependencies, this package and its gluon-pydmn tool
#   make reproduce-table3   the main job: results/table3.md and results/table3.csv (then tradeoff)
#   make test               unit tests (real data, real weights)
#   make test-slow          also the slow tests (full test-set errors of all 44 checkpoints)
#   make tradeoff           the trade-off plot (error against #params, FLOPs and CPU time) from
#                           results/table3.csv and results/table5-cpu.csv
#   make table5 [CTX=cpu|gpu|gpu:N]  the paper's Table 5 (inference time, batch 128) on this
#                           machine: results/table5-cpu.md/.csv (table5-gpu.* on a GPU), then tradeoff
#   make figure2            the paper's Figure 2 (training curves) from the runs in results/training
#   make training-index     results/training/README.md: every committed run, its schema and result
#   make claims             results/claims.md, claims.png: the paper's comparisons, our runs
#   make signature          results/signature.md: fit and confidence of the runs' weights and the
#                           authors' (tells mixup-trained weights from others)
#   make benchmark          training/inference timing of Table 5's networks: results/benchmark.md
#   make train MODEL=pydmobilenet_concat_56_0.75 [DATASET=cifar10] [TRAIN_ARGS="--epochs 10"]
#                           train with the paper's schema into runs/MODEL-DATASET (resumable)
#   CTX=cpu|gpu|gpu:N       the device of reproduce-table3, table5, signature and train
#                           (train also gpu:N,M,...: each batch split across the GPUs)
#   make sweep [SWEEP_ARGS="--address auto ..."]
#                           Table 3 by training: the 44 runs as Ray tasks into runs/sweep (resumable)
#
# Locations (override on the command line or in the environment):
#   SHARED                   a folder with data/cifar/materialize.py and the authors' release
#                            under reference/ (this project's ../shared); used when present
#   GLUON_PYDMN_DATA         CIFAR archives/folders (filled by `make data`: gluon-pydmn download data)
#   GLUON_PYDMN_WEIGHTS      authors' release layout or converted weights
#   GLUON_PYDMN_PAPER_TABLES a JSON file replacing the package's transcription of the paper's
#                            numbers (unset by default)
#   GLUON_PYDMN_CACHE        extraction cache, resumable work folders

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared

export GLUON_PYDMN_CACHE ?= $(HOME)/.cache/gluon_pydmn
export GLUON_PYDMN_DATA ?= $(GLUON_PYDMN_CACHE)/data
RELEASE := $(SHARED)/reference/pydmobilenet_mxnet
export GLUON_PYDMN_WEIGHTS ?= $(if $(wildcard $(RELEASE)),$(abspath $(RELEASE)),$(GLUON_PYDMN_CACHE)/weights)

CTX ?= cpu
DATASET ?= cifar10

.PHONY: install data weights pretrained test test-slow reproduce-table3 tradeoff table5 figure2 \
	training-index claims signature benchmark train sweep clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -e .
	$(BIN)/gluon-pydmn --help > /dev/null  # the console script is installed
	$(BIN)/python -c 'from gluon_pydmn.ops import build_extension; print(build_extension())'
	touch $@

# CIFAR-10/100, official binary files and archives: from $(SHARED) when present, else downloaded.
data: install
	@if [ -f "$(SHARED)/data/cifar/materialize.py" ]; then \
	  [ -f "$(GLUON_PYDMN_DATA)/.materialized" ] || { \
	    $(BIN)/python "$(SHARED)/data/cifar/materialize.py" "$(GLUON_PYDMN_DATA)" --archives && \
	    touch "$(GLUON_PYDMN_DATA)/.materialized"; }; \
	else \
	  $(BIN)/gluon-pydmn download data --data-root "$(GLUON_PYDMN_DATA)"; \
	fi

# The authors' released checkpoints (release layout, converted on load).
weights: install
	@if [ ! -d "$(GLUON_PYDMN_WEIGHTS)" ]; then \
	  $(BIN)/gluon-pydmn download weights --weights-root "$(GLUON_PYDMN_WEIGHTS)"; fi

# Fetch the authors' release (internet) and convert it into this package's own files.
pretrained: install
	$(BIN)/gluon-pydmn download weights --weights-root "$(GLUON_PYDMN_CACHE)/release"
	$(BIN)/gluon-pydmn download weights --convert "$(GLUON_PYDMN_CACHE)/release" \
	  --weights-root "$(GLUON_PYDMN_CACHE)/weights"

test: data weights
	$(BIN)/python -m pytest tests

test-slow: data weights
	$(BIN)/python -m pytest tests -m "slow or not slow"

reproduce-table3: data weights
	$(BIN)/gluon-pydmn table3 --ctx $(CTX) --out results
	$(MAKE) --no-print-directory tradeoff

tradeoff: install
	$(BIN)/gluon-pydmn tradeoff --table3 results/table3.csv \
	  --table5 results/table5-cpu.csv --out results/tradeoff.png

table5: data weights
	$(BIN)/gluon-pydmn table5 --ctx $(CTX) --out results
	@if [ "$(CTX)" = cpu ]; then $(MAKE) --no-print-directory tradeoff; fi

figure2: install
	$(BIN)/gluon-pydmn figure2 --out results/figure2.png

training-index: install
	$(BIN)/gluon-pydmn runs --root results/training

claims: install
	$(BIN)/gluon-pydmn claims --out results

signature: data weights
	$(BIN)/gluon-pydmn signature --ctx $(CTX) --out results/signature.md

benchmark: data weights
	$(BIN)/gluon-pydmn benchmark --out results/benchmark.md

train: data
	@test -n "$(MODEL)" || { echo 'usage: make train MODEL=<zoo name> [DATASET=cifar10|cifar100-fine|cifar100-coarse] [CTX=cpu|gpu:N,...] [TRAIN_ARGS=...]'; exit 2; }
	$(BIN)/gluon-pydmn train --model $(MODEL) --dataset $(DATASET) --ctx $(CTX) $(TRAIN_ARGS)

sweep: data
	$(BIN)/gluon-pydmn sweep $(SWEEP_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
