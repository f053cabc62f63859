# cifarcmp: `make report` trains both models and builds the site; `make test` runs the tests.
# The runs a report needs come from one plan (`make plan`, cifarcmp/plan.py); `make train` trains
# those not yet finished through an executor (EXECUTOR=local, JOBS at a time; or EXECUTOR=slurm,
# one job array), so a second `make report` retrains nothing and costs a few file reads.
# `make help` lists the targets.
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
# Opt-in studies, comma-separated: the seed's claims (arms, data-efficiency, gradcam) and the
# improvements it proposed (augmentation, backbones, resolution, ensembles, distillation, learning-rate).
STUDIES ?=
FRACTIONS ?= 0.01,0.1,1
# The learning-rate study's grid and the backbones study's networks (empty: each study's default,
# cut down in the smoke profile; `make plan` lists the runs and their estimated GPU time).
LEARNING_RATES ?=
BACKBONES ?=
# Where runs train: local (this machine, JOBS at a time, one GPU each where GPUs are visible) or
# slurm (one job array; PARTITION, TIME, GPUS per run and SBATCH_ARGS go to sbatch).
EXECUTOR ?= local
JOBS ?=
PARTITION ?=
TIME ?=
GPUS ?=
SBATCH_ARGS ?=
# float32 (the seed's), or mixed: bfloat16/float16 compute on a GPU, listed as a deviation.
PRECISION ?=

# Every variable reaches a command as one single-quoted shell word (a `'` inside becomes '\''), so
# no value, however it is spelled (`;`, `$$(...)`, backticks, `&`, spaces), is ever run by the
# shell: the program gets it whole and checks it, with its one-line error.
quote = '$(subst ','\'',$(1))'
# Make-only variables are checked here, before any rule is read: a bad one is one line and nothing runs.
ifeq ($(filter cpu gpu,$(TF)),)
$(error TF=$(TF): need cpu or gpu)
endif
# PROFILE names a results folder, which names the file targets below: a rule is only written for
# one of the profiles (the program refuses any other, in one line, when a target runs it).
valid_profile = $(and $(filter paper quick smoke,$(PROFILE)),$(if $(word 2,$(PROFILE)),,yes))

# Real-data profiles run on synthetic data land in their own folder, marked as such.
# (the same rule as cifarcmp.config.results_tag)
is_synthetic = $(and $(DATA),$(if $(subst synthetic,,$(DATA)),,yes))
DATA_SUFFIX := $(if $(filter smoke,$(PROFILE)),$(if $(DATA),$(if $(is_synthetic),,-real)),$(if $(is_synthetic),-synthetic))
TAG := $(PROFILE)$(DATA_SUFFIX)
RESULTS := results/$(TAG)
# SEED and SEEDS are counted with in the shell: check them here, in one line, before anything runs.
without_digits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$(1)))))))))))
whole_number = $(and $(strip $(1)),$(if $(word 2,$(1)),,yes),$(if $(call without_digits,$(1)),,yes))
ifeq ($(and $(call whole_number,$(SEEDS)),$(if $(filter 0%,$(SEEDS)),,yes)),)
$(error SEEDS=$(SEEDS): need a positive whole number of seeds, such as SEEDS=3)
endif
ifeq ($(call whole_number,$(SEED)),)
$(error SEED=$(SEED): need a whole number >= 0, such as SEED=0)
endif
# An empty variable adds no flag (the program's default applies); any other value is one argument.
flag = $(if $(2),$(1) $(call quote,$(2)))
RUN_FLAGS := $(call flag,--data,$(DATA)) $(call flag,--weights,$(WEIGHTS)) $(call flag,--precision,$(PRECISION))
PLAN_FLAGS := --profile $(call quote,$(PROFILE)) --seed $(SEED) --seeds $(SEEDS) $(if $(STUDIES),--studies $(call quote,$(STUDIES)) --fractions $(call quote,$(FRACTIONS)) $(call flag,--learning-rates,$(LEARNING_RATES)) $(call flag,--backbones,$(BACKBONES))) $(RUN_FLAGS)
EXECUTOR_FLAGS := --executor $(call quote,$(EXECUTOR)) $(call flag,--jobs,$(JOBS)) $(call flag,--gpus-per-run,$(GPUS)) $(call flag,--partition,$(PARTITION)) $(call flag,--time,$(TIME)) $(call flag,--sbatch-args,$(SBATCH_ARGS))
INSTALLED := $(VENV)/.installed-$(TF)

.PHONY: help setup plan train studies report site pdf serve tensorboard lint format test test-fast bench bench-site clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE="$(call quote,$(PROFILE))" (paper|quick|smoke)  DATA=cifar10|synthetic|PATH  WEIGHTS=imagenet|none|PATH"
	@echo "             SEED=$(SEED)  SEEDS=$(SEEDS)  STUDIES=arms,data-efficiency,gradcam,augmentation,backbones,resolution,ensembles,distillation,learning-rate"
	@echo "             FRACTIONS="$(call quote,$(FRACTIONS))"  LEARNING_RATES=0.001,0.01,...  BACKBONES=resnet50v2,...  PRECISION=float32|mixed  TF=$(TF)"
	@echo "             EXECUTOR=local|slurm  JOBS=N  GPUS=N  PARTITION=  TIME=  SBATCH_ARGS='--mem=16G ...'"

setup: $(INSTALLED) ## create .venv and install cifarcmp with its dependencies

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(TF),test]'
	rm -f $(VENV)/.installed-*
	touch $@

plan: $(INSTALLED) ## list the runs the report needs, each done, interrupted or missing
	$(BIN)/cifarcmp plan $(PLAN_FLAGS)

train: $(INSTALLED) ## train the plan's unfinished runs (EXECUTOR, JOBS, ...); cheap when all are done
	$(BIN)/cifarcmp run-plan $(PLAN_FLAGS) $(EXECUTOR_FLAGS)

# A single run is still a file target: `make results/smoke/cnn/seed-0/manifest.json PROFILE=smoke`.
# Precious: `train` publishes the run, then takes a few seconds more to exit; a Ctrl-C (or a failure)
# in that window must not make Make delete the finished run's manifest.json.
ifeq ($(valid_profile),yes)
.PRECIOUS: $(RESULTS)/%/manifest.json
$(RESULTS)/%/manifest.json: | $(INSTALLED)
	$(BIN)/cifarcmp train --model $(call quote,$(word 1,$(subst /, ,$*))) --seed $(call quote,$(patsubst seed-%,%,$(word 2,$(subst /, ,$*)))) --profile $(PROFILE) $(RUN_FLAGS) --out $(call quote,$(RESULTS)/$*)
endif

# Ends by saying where the report is: a newcomer's first question after the build.
report: train site ## train what the plan lacks (STUDIES included), then render and build site/ with its PDF
	@printf '%s\n' 'make report: done.' \
	  '  site: '$(call quote,$(CURDIR)/site/index.html)' (open it in a browser; or `make serve` and open http://127.0.0.1:8000)' \
	  '  PDF:  '$(call quote,$(CURDIR)/site/report.pdf)

studies: train ## the STUDIES' runs and summaries (arms,data-efficiency,gradcam) with the main runs

# Built beside site/, with its PDF, and swapped in only when both succeeded: an interrupted build
# keeps the old site. The folders beside it have names of their own (mktemp), so no user's folder
# is ever mistaken for them.
site: $(INSTALLED) ## render docs/generated/ from existing results and build site/ with its PDF (no training)
	$(BIN)/cifarcmp render $(call quote,$(RESULTS))
	building=$$(mktemp -d .site.building-XXXXXX) && chmod 755 "$$building" && trap 'rm -rf "$$building"' EXIT && \
	$(BIN)/mkdocs build --strict --site-dir "$$building" && \
	$(BIN)/python -m cifarcmp.report.pdf "$$building" >/dev/null && \
	old=$$(mktemp -d .site.old-XXXXXX) && \
	{ if [ -d site ]; then mv site "$$old/site"; fi; } && \
	mv "$$building" site && rm -rf "$$old" && \
	echo 'site built: site/index.html, and its PDF: site/report.pdf'  # where they are now, not where they were built

pdf: $(INSTALLED) ## print the built site/ again to site/report.pdf (the whole report, nav order; needs chromium)
	$(BIN)/python -m cifarcmp.report.pdf site

serve: site ## preview the built site on http://127.0.0.1:8000 (gzip and 404 page, as GitHub Pages serves it)
	$(BIN)/python -m cifarcmp.report.serve site --port 8000

# PORT, HOST and LOGDIR choose where it listens and what it reads: HOST=0.0.0.0 on a cluster node
# (README: reaching it from the login node), LOGDIR=results/paper for one report's runs only.
# Taken from make's command line only: a shell's own HOST or PORT (zsh sets HOST) must not move it.
TENSORBOARD_PORT := $(if $(filter command line,$(origin PORT)),$(PORT),6006)
TENSORBOARD_HOST := $(if $(filter command line,$(origin HOST)),$(HOST),127.0.0.1)
LOGDIR ?= results
tensorboard: $(INSTALLED) ## serve the TensorBoard logs of every run under LOGDIR=results (PORT=6006, HOST=127.0.0.1)
	@$(BIN)/python -c 'import tensorboard' 2>/dev/null || { echo "make tensorboard: TensorBoard is not installed in $(VENV); run: $(BIN)/python -m pip install tensorboard" >&2; exit 1; }
	$(BIN)/tensorboard --logdir '$(LOGDIR)' --host '$(TENSORBOARD_HOST)' --port '$(TENSORBOARD_PORT)'

# The package, the tests, the Colab notebook and the code of the executed pages (jupytext Markdown,
# piped through ruff as Python) are held to the same rules.
LINTED := cifarcmp tests notebooks
EXECUTED_PAGES := $(wildcard docs/notebooks/*.md)
ruff_on_pages = $(BIN)/jupytext --quiet $(1) '$(BIN)/ruff $(2) --stdin-filename page.py -' $(EXECUTED_PAGES)

lint: $(INSTALLED) ## check the code with ruff (rules and formatting, pyproject.toml) and the package's layering
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(call ruff_on_pages,--check,check --quiet)
	$(call ruff_on_pages,--check,format --check --quiet)
	$(BIN)/python -m pytest --quiet --no-header -p no:cacheprovider tests/test_layout.py -k 'imports or cycles'

format: $(INSTALLED) ## fix what `make lint` finds that ruff can fix (import order, formatting), pages included
	$(BIN)/ruff check --fix-only --quiet $(LINTED)
	$(BIN)/ruff format --quiet $(LINTED)
	$(call ruff_on_pages,--pipe,check --fix-only --quiet)
	$(call ruff_on_pages,--pipe,format --quiet)

# Each run prints its slowest tests, so a change sees what it costs of CI's 90 minutes. Two workers
# (pytest-xdist): much of a slow test is waiting (a scheduler, a child process, a browser), which the
# other worker fills; the SLURM tests share one cluster, so they keep to one worker (xdist_group).
test: lint ## lint, then every test (slow ones included: they train small models and build the site)
	$(BIN)/python -m pytest --numprocesses 2 --dist loadgroup --durations=15

# Two workers (pytest-xdist): the fast tests share nothing, and this machine has two cores.
test-fast: lint ## lint, then every test but the slow ones (about two minutes)
	$(BIN)/python -m pytest -m "not slow" --numprocesses 2 --durations=10

bench: $(INSTALLED) ## print throughput, achieved TFLOP/s and memory for both models on this machine (PRECISION)
	$(BIN)/python -m cifarcmp.train.bench $(call flag,--precision,$(PRECISION))

# Lighthouse comes from npm, into .make/ (not a Python package); the pin is the version measured with.
LIGHTHOUSE := .make/lighthouse/node_modules/.bin/lighthouse
bench-site: $(INSTALLED) ## print each page's weight and its Lighthouse scores, mobile preset (built site/; needs npm, chromium)
	@test -f site/index.html || { echo "make bench-site: no site/ to measure: run make site (or make report) first" >&2; exit 2; }
	@test -x $(LIGHTHOUSE) || command -v npm >/dev/null || { echo "make bench-site: Lighthouse installs with npm, which is missing (Debian: apt install npm)" >&2; exit 2; }
	test -x $(LIGHTHOUSE) || npm install --silent --no-audit --no-fund --prefix .make/lighthouse lighthouse@12.8.2
	$(BIN)/python -m cifarcmp.report.bench site --lighthouse $(LIGHTHOUSE)

clean: ## remove built pages and the site (results are kept)
	rm -rf site .site.building-* .site.old-* docs/generated
