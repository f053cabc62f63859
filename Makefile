# cifarcmp: `make report` trains both models and builds the site; `make test` runs the tests.
# Slow steps are file targets (a finished run's manifest.json), so a second `make report` retrains
# nothing that is already complete. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# TensorFlow build: cpu (tensorflow-cpu) or gpu (tensorflow[and-cuda]); `make setup TF=gpu`.
TF ?= $(if $(HAS_GPU),gpu,cpu)
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU && echo yes)
# The seed's exact protocol where a GPU is visible, the cut-down real-data profile where none is.
PROFILE ?= $(if $(HAS_GPU),paper,quick)
DATA ?=
WEIGHTS ?=
SEED ?= 0
SEEDS ?= 1
# Opt-in studies of the seed's claims, comma-separated: arms, data-efficiency, gradcam.
STUDIES ?=
FRACTIONS ?= 0.01,0.1,1
MODELS := resnet50 cnn

# Real-data profiles run on synthetic data land in their own folder, marked as such.
# (the same rule as cifarcmp.config.results_tag)
DATA_SUFFIX := $(if $(filter smoke,$(PROFILE)),$(if $(filter-out synthetic,$(DATA)),-real),$(if $(filter synthetic,$(DATA)),-synthetic))
TAG := $(PROFILE)$(DATA_SUFFIX)
RESULTS := results/$(TAG)
SEED_LIST := $(if $(filter 1,$(SEEDS)),$(SEED),$(shell seq 0 $$(( $(SEEDS) - 1 ))))
RUNS := $(foreach model,$(MODELS),$(foreach seed,$(SEED_LIST),$(RESULTS)/$(model)/seed-$(seed)/manifest.json))
TRAIN_FLAGS := --profile $(PROFILE) $(if $(DATA),--data $(DATA)) $(if $(WEIGHTS),--weights $(WEIGHTS))
INSTALLED := $(VENV)/.installed-$(TF)

.PHONY: help setup train studies report site pdf serve lint test test-fast bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=$(PROFILE) (paper|quick|smoke)  DATA=cifar10|synthetic|PATH  WEIGHTS=imagenet|none|PATH"
	@echo "             SEED=$(SEED)  SEEDS=$(SEEDS)  STUDIES=arms,data-efficiency,gradcam  FRACTIONS=$(FRACTIONS)  TF=$(TF)"

setup: $(INSTALLED) ## create .venv and install cifarcmp with its dependencies

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(TF),test]'
	rm -f $(VENV)/.installed-*
	touch $@

train: $(RUNS) ## train both models (PROFILE, DATA, WEIGHTS, SEED, SEEDS)

# $* is <model>/seed-<N>; the run directory appears only when the run is complete.
$(RESULTS)/%/manifest.json: | $(INSTALLED)
	$(BIN)/cifarcmp train --model $(word 1,$(subst /, ,$*)) --seed $(patsubst seed-%,%,$(word 2,$(subst /, ,$*))) $(TRAIN_FLAGS) --out $(RESULTS)/$*

report: train $(if $(STUDIES),studies) site ## train what is missing (and STUDIES), then render and build site/

studies: $(INSTALLED) ## run the STUDIES (arms,data-efficiency,gradcam); finished runs are kept
	$(BIN)/cifarcmp study --studies $(STUDIES) $(TRAIN_FLAGS) --seeds $(SEEDS) --fractions $(FRACTIONS)

site: $(INSTALLED) ## render docs/generated/ from existing results and build site/ with its PDF (no training)
	$(BIN)/cifarcmp render $(RESULTS)
	$(BIN)/mkdocs build --strict --site-dir site
	$(MAKE) pdf

pdf: ## print the built site/ to site/report.pdf (the whole report, nav order; needs chromium)
	$(BIN)/python -m cifarcmp.report.pdf site

serve: site ## preview the built site on http://127.0.0.1:8000
	$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory site

lint: $(INSTALLED) ## check the code with ruff (lint rules and formatting, as configured in pyproject.toml)
	$(BIN)/ruff check cifarcmp tests
	$(BIN)/ruff format --check cifarcmp tests

test: lint ## lint, then every test (slow ones included: they train small models and build the site)
	$(BIN)/python -m pytest

test-fast: lint ## lint, then every test but the slow ones (a couple of minutes)
	$(BIN)/python -m pytest -m "not slow"

bench: $(INSTALLED) ## print throughput and memory figures for both models on this machine
	$(BIN)/python -m cifarcmp.train.bench

clean: ## remove built pages and the site (results are kept)
	rm -rf site docs/generated
