# `make demo`: set up and run the whole demo pipeline, SFT → DPO → GRPO → eval (tiny model, bundled data, MLflow in
# ./mlflow.db); run again, it skips the finished stages.
# `make test`: set up and run the whole test suite (Rust and Python).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint rust-test rewards-wheels clean

# No pip cache: torch's CUDA wheels would be held twice on disk (download cache + install), ~4 GB more.
# The reward verifiers first: tulu_lightning depends on tulu-rewards, built here from ./tulu-rewards.
$(STAMP): pyproject.toml tulu-rewards/pyproject.toml $(shell find . -name Cargo.toml -not -path './target/*' -not -path './$(VENV)/*') $(shell find rust tulu-rewards/src -name '*.rs')
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir --upgrade pip
	$(PY) -m pip install -q --no-cache-dir -e ./tulu-rewards
	$(PY) -m pip install -q --no-cache-dir -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# One BLAS thread unless set: the demo's matrices are tiny, and on a busy 2-core machine two spinning threads ran
# SFT 3-8x slower than one (641 vs 2,400-6,900 tokens/s at load 6-7).
demo: setup
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m tulu_lightning recipe --config configs/demo/recipe.yaml

rust-test:
	cargo test --quiet
	cargo clippy --quiet -- -D warnings

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks scripts tulu-rewards/python
	$(VENV)/bin/ruff format --check src tests benchmarks scripts tulu-rewards/python

test: setup rust-test lint
	$(PY) -m pytest -q

# The tulu-rewards wheels users install: abi3 (CPython >= 3.10), manylinux2014 (glibc >= 2.17) through zig,
# for x86_64 and aarch64 (cross-built), into dist/.
rewards-wheels: setup
	PATH=$(VENV)/bin:$$PATH $(PY) -m maturin build --release --zig --compatibility manylinux2014 \
		-m tulu-rewards/Cargo.toml -o dist
	rustup target add aarch64-unknown-linux-gnu
	PATH=$(VENV)/bin:$$PATH $(PY) -m maturin build --release --zig --compatibility manylinux2014 \
		--target aarch64-unknown-linux-gnu -m tulu-rewards/Cargo.toml -o dist

clean:
	rm -rf $(VENV) target dist mlflow.db mlflow.db.lock mlruns outputs
