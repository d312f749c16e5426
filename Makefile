# The project's interface. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# TFX 1.16 installs only on Python 3.10 here (see README); pyenv's 3.10 is used when not on PATH.
PYTHON310 ?= $(shell for p in python3.10 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10*/bin/python3.10; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { command -v "$$p"; break; }; done)
CONFIG ?=
HOME_DIR ?= runs
PYTEST_ARGS ?=

.PHONY: help venv browser loadtool run report serve lint test test-fast test-e2e bench bench-scale bench-changes bench-evaluator bench-serving bench-problems bench-warm-start bench-containers bench-drift bench-trainer gpu-check schema clean image test-cloud

# `make` alone lists the targets; every target documents itself with `## ...` after its name.
.DEFAULT_GOAL := help

help: ## list the targets (this text)
	@echo "Usage: make TARGET [CONFIG=path/to/problem.yaml] [HOME_DIR=runs] [PYTEST_ARGS=...]"
	@grep -E '^[a-zA-Z][a-zA-Z0-9_-]*:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-17s %s\n", $$1, $$2}'

venv: $(STAMP) ## set up .venv (Python 3.10, the pinned packages of requirements.lock)

$(STAMP): requirements.lock setup.py pyproject.toml
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: install it (e.g. pyenv install 3.10) or set PYTHON310=/path/to/python3.10"; exit 1; }
	@echo "Setting up $(VENV) with $(PYTHON310) from requirements.lock (first time: a few minutes; log: $(VENV)-install.log)"
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check "pip==24.3.1" > $(VENV)-install.log 2>&1
	@$(PY) -m pip install --disable-pip-version-check -r requirements.lock >> $(VENV)-install.log 2>&1 \
		|| { tail -n 30 $(VENV)-install.log; exit 1; }
	@$(PY) -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e . >> $(VENV)-install.log 2>&1 \
		|| { tail -n 30 $(VENV)-install.log; exit 1; }
	@touch $(STAMP)

# $(call debian_package,PACKAGE,PURPOSE): apt-installs a Debian package unless its command is
# on PATH (the package and its command share the name).
define debian_package
	@command -v $(1) >/dev/null || { echo "Installing Debian's $(1) $(2) (log: .$(1)-install.log)"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq > .$(1)-install.log 2>&1 && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(1) >> .$(1)-install.log 2>&1 \
		|| { tail -n 20 .$(1)-install.log; exit 1; }; }
endef

# Debian's Chromium renders the HTML report in the report tests (headless, offline).
browser: ## install Debian's chromium (renders the HTML report in the report tests)
	$(call debian_package,chromium,for the HTML report tests)

# Debian's wrk, the HTTP load generator of the serving benchmark.
loadtool: ## install Debian's wrk (the serving benchmark's load generator)
	$(call debian_package,wrk,for the serving benchmark)

run: venv ## run the whole pipeline locally on the configured data
	$(VENV)/bin/mlpipe run --home $(HOME_DIR) $(if $(CONFIG),--config $(CONFIG))

schema: venv ## propose a schema from the data with TFDV and diff it with the curated one
	$(VENV)/bin/mlpipe schema --home $(HOME_DIR) $(if $(CONFIG),--config $(CONFIG))

# The latest run's evaluation in the terminal, and as one HTML file (path printed).
report: venv ## the latest run's evaluation in the terminal and as one HTML file
	$(VENV)/bin/mlpipe report --home $(HOME_DIR) --html $(if $(CONFIG),--config $(CONFIG))

# The newest pushed model on 127.0.0.1 (TensorFlow Serving's REST API) until Ctrl-C.
serve: venv ## serve the newest pushed model on 127.0.0.1 until Ctrl-C
	$(VENV)/bin/mlpipe serve --home $(HOME_DIR) $(if $(CONFIG),--config $(CONFIG))

# Everything: the fast suite, the slow tests and the end-to-end pipeline runs.
lint: venv ## ruff: pyflakes and pycodestyle's checks on the code, tests, benchmarks and scripts
	$(VENV)/bin/ruff check mlpipe tests benchmarks scripts

test: venv browser lint ## the lint, then every test: the fast suite, the slow tests and the end-to-end runs
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-fast: venv lint ## the lint, then the fast suite only (no end-to-end runs, no slow or container tests)
	$(PY) -m pytest tests -m "not e2e and not slow and not containers" $(PYTEST_ARGS)

# The pipeline image (mlpipe/kubeflow/Dockerfile) on a local Debian base with the venv's Python
# 3.10 unless BASE_IMAGE is given; starts a container engine if none runs; ends with the smoke
# check inside the image.
IMAGE ?= mlpipe:local
image: venv ## build the pipeline image and smoke-check it [IMAGE=mlpipe:local BASE_IMAGE=...]
	PYTHON310=$(PYTHON310) IMAGE=$(IMAGE) scripts/build-image.sh

# The compiled Kubeflow and Vertex AI pipelines run in containers of that image to a pushed model.
# The engine is stopped afterwards when `make image` started it.
test-cloud: image ## the container tests: both compiled pipelines run in the image to a pushed model
	MLPIPE_TEST_IMAGE=$(IMAGE) $(PY) -m pytest tests/cloud $(PYTEST_ARGS); \
	status=$$?; scripts/docker-engine.sh stop; exit $$status

test-e2e: venv browser ## the end-to-end pipeline runs only
	$(PY) -m pytest tests -m e2e $(PYTEST_ARGS)

bench: venv ## the speed benchmark against the upstream TFX taxi example
	$(PY) benchmarks/bench_pipeline.py

# The taxi CSV repeated 1, 4, 16 and 64 times, each run cold (SCALES=1,4: a quick look).
bench-scale: venv ## cold runs on the taxi CSV x1,4,16,64 vs read/model floors [SCALES=1,4]
	$(PY) -m benchmarks.bench_scale $(if $(SCALES),--scales $(SCALES))

# Before/after of each change to the local runner, component by component, on one table.
bench-changes: venv ## each local-runner speed-up before/after on the taxi CSV x8 [SCALES=8]
	$(PY) -m benchmarks.bench_changes $(if $(SCALES),--scale $(SCALES))

# The Evaluator alone on a run's eval split: the configured slices and metrics against less.
bench-evaluator: venv ## where the Evaluator's time goes: slices, metrics, model floor [RUN_HOME=...]
	$(PY) -m benchmarks.bench_evaluator $(if $(RUN_HOME),--home $(RUN_HOME))

bench-serving: venv loadtool ## the serving load test (REST and gRPC) and batch scoring benchmark
	$(PY) benchmarks/bench_serving.py

# scikit-learn (already pinned in requirements.lock as a TFX dependency) is the reference.
bench-problems: venv ## init + run on seven tables (3 seeds, and tuned) against linear and boosted baselines on the same split [ONLY=a,b] [SEEDS=0,1,2]
	$(PY) -m benchmarks.bench_problems --tune $(if $(ONLY),--only $(ONLY)) $(if $(SEEDS),--seeds $(SEEDS))

bench-drift: venv ## drift checks: false alarms on samples of the training data, detection of planted shifts [SAMPLES=50]
	$(PY) -m benchmarks.bench_drift $(if $(SAMPLES),--samples $(SAMPLES))

bench-warm-start: venv ## warm start against cold start on the taxi data arriving in spans
	$(PY) -m benchmarks.bench_warm_start

# The Trainer's fit on the transformed taxi data (x1, x16) against model.fit on arrays in memory.
bench-trainer: venv ## the Trainer's examples/s vs an in-memory floor: streamed, in memory, 2 replicas, mixed precision, XLA [SCALES=1,16] [RUN_HOME=...]
	$(PY) -m benchmarks.bench_trainer $(if $(SCALES),--scales $(SCALES)) $(if $(RUN_HOME),--run-home $(RUN_HOME))

gpu-check: venv ## on a GPU machine: the trainer bench with the GPU strategies and GPU utilization; without one, one line and exit 0
	scripts/gpu-check.sh

# Every step of the compiled Kubeflow pipeline in a container of the image, beside the same step
# of a local run on the same rows, and the floor each container pays (docker run + TF import).
bench-containers: image ## each compiled step in a container vs the same step run locally [IMAGE=mlpipe:local]
	$(PY) -m benchmarks.bench_containers --image $(IMAGE)

clean: ## remove the venv, the runs and the benchmark output
	rm -rf $(VENV) $(VENV)-install.log .chromium-install.log .wrk-install.log runs benchmarks/out
