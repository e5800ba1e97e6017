# iguln: `make demo` runs the demo, `make test` the tests. Both set up everything they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist
TEST_ENV := HF_HUB_OFFLINE=1 WANDB_MODE=disabled

.PHONY: install data demo test test-full lint format clean bench-demo reproduce-paper reproduce-mini

install: $(STAMP) data

# The virtual environment and the package (editable, with the dev tools); redone when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

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

# Prints the demo's figures against its targets (two full demo runs from an empty store: about 13 minutes here).
bench-demo: install
	$(BIN)/python benchmarks/demo.py
