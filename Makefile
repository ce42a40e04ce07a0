# One entry point for people and CI.
#   make train   the main job: train the tutorial's CVAE and write its results to runs/tutorial
#   make test    every check CI runs: lint, unit tests, notebooks (nbval), book build, rendered pages
# Both create .venv from requirements.txt on first use. Data: $VAE_DATA_DIR names a folder
# holding the four MNIST IDX gz files; unset, MNIST is downloaded.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
RUN_DIR ?= runs/tutorial

.PHONY: install train test test-quick lint unit nbval book book-check notebooks bench

$(VENV)/installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# setuptools warns on every editable install that a folder named like the package may shadow
	# it; here that folder is the package the install points at, so the warning is silenced.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/installed

train: install
	python -m vae_lib train --out $(RUN_DIR) --precision float32

test: lint unit nbval book-check

lint: install
	ruff check .
	ruff format --check .
	actionlint

unit: install
	pytest tests/

# Lint and the unit tests that run in this process (no child TensorFlow processes), for a quick check.
test-quick: lint
	pytest -m "not subprocess" tests/

# Every chapter, executed in reduced mode (a training subset, one epoch) and compared with its outputs,
# in the book's kernel (notebooks/jupyter: C-level output such as TensorFlow's start-up lines stays
# out of the notebook).
nbval: install
	JUPYTER_PATH=$(CURDIR)/notebooks/jupyter VAE_QUICK=1 pytest --nbval notebooks/

book: install
	jupyter-book build book/ --warningiserror --keep-going

book-check: book
	python book/check_pages.py

# Training speed against a plain re-implementation of the tutorial's loop (bench/README.md).
bench: install
	python bench/bench.py

# Re-execute every chapter in full (chapter 5 trains 10 epochs on all 60,000 images) and save the outputs.
notebooks: install
	bash notebooks/run_all.sh
