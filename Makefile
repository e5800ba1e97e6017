# iguln: `make demo` runs the demo, `make test` the tests. Both set up everything they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist
TEST_ENV := HF_HUB_OFFLINE=1 WANDB_MODE=disabled

LOCK := requirements.lock

.PHONY: install data demo test test-full lint format clean lock bench bench-demo reproduce-paper reproduce-mini

install: $(STAMP) data

# The virtual environment with every package at its locked version (requirements.lock), then iguln itself
# (editable, nothing else resolved); redone when the lock or pyproject.toml changes.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Write requirements.lock anew: pyproject.toml's dependencies (and the dev tools) resolved in a fresh environment,
# every installed package pinned. Commit the result; `make install` then installs exactly it.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# iguln's locked environment, written by \`make lock\` from pyproject.toml on $$(date -u +%Y-%m-%d)."; \
	  echo "# make install installs exactly these versions; each result record keeps this file's sha256."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .lock-venv

# Fashion-MNIST from Debian when apt-get is there and we are root; otherwise torchvision downloads it on first use.
data:
	@if [ -d $(FASHION_MNIST) ]; then \
		echo "Fashion-MNIST: $(FASHION_MNIST)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST: not installed (needs apt-get as root); torchvision will download it into outputs/downloads"; \
	fi

demo: install
	$(BIN)/iguln train experiment=demo

# The paper's matrix (every family, every row, ImageNet-1K and Places-365), then the report; stops first listing
# any missing data root or weights file. MODELS=vqgan,diffusion leaves a family out.
MODELS ?= vqgan,mae,diffusion
reproduce-paper: install
	$(BIN)/iguln reproduce paper --models $(MODELS)

# The same matrix on Fashion-MNIST on a CPU, with an alpha sweep, then the report.
reproduce-mini: install
	$(BIN)/iguln reproduce mini --models $(MODELS)

test: install
	$(TEST_ENV) $(BIN)/python -m pytest -q -m "not slow"

test-full: install
	$(TEST_ENV) $(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	find outputs -mindepth 1 -not -name .gitkeep -delete 2>/dev/null || true
	rm -rf .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# The README's measured figures, written to benchmarks/results/*.md and .json with the commit, date, machine and lock
# (hours on a CPU). A script that finds a target missed exits 1 after writing its file; make goes on (the leading -)
# and says so. bench-demo: the demo of each family alone, from an empty store.
bench: install
	-$(TEST_ENV) $(BIN)/python benchmarks/matrix.py
	-$(TEST_ENV) $(BIN)/python benchmarks/fills.py
	-$(TEST_ENV) $(BIN)/python benchmarks/originals.py
	-$(MAKE) bench-demo
	rm -rf outputs/bench-mini
	for model in vqgan mae diffusion; do rm -rf outputs/bench-rows-$$model; \
		$(TEST_ENV) $(BIN)/python benchmarks/rows.py --outputs outputs/bench-rows-$$model model=$$model; \
		$(TEST_ENV) $(BIN)/python benchmarks/aspects.py --outputs outputs/bench-rows-$$model model=$$model \
		|| echo "benchmarks/aspects.py model=$$model failed"; done
	-$(TEST_ENV) $(BIN)/python benchmarks/reproduce_mini.py --outputs outputs/bench-mini
	-$(TEST_ENV) $(BIN)/python benchmarks/throughput.py
	-$(TEST_ENV) $(BIN)/python benchmarks/diffusion_sampling.py
	-$(TEST_ENV) $(BIN)/python benchmarks/unlearn_cost.py
	-$(TEST_ENV) $(BIN)/python benchmarks/paper_step.py
	$(BIN)/python benchmarks/findings.py

bench-demo: install
	for model in vqgan mae diffusion; do rm -rf outputs/bench-demo-$$model; \
		$(TEST_ENV) $(BIN)/python benchmarks/demo.py --outputs outputs/bench-demo-$$model model=$$model \
		|| echo "benchmarks/demo.py model=$$model: a target missed or the run failed (see its file)"; done
