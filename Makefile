# The two commands of the README:
#   make demo   install everything into .venv and run the main job on the embedded model
#   make test   install everything into .venv, lint, type-check and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint pytest bench clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $@

demo: $(STAMP)
	@mkdir -p .llmops/notebooks
	$(PY) -m papermill notebooks/quickstart.ipynb .llmops/notebooks/quickstart.ipynb --progress-bar
	@echo "Executed notebook: .llmops/notebooks/quickstart.ipynb"
	@echo "Runs and traces:   sqlite:///$(CURDIR)/.llmops/mlflow.db  (browse: $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/.llmops/mlflow.db)"

lint: $(STAMP)
	$(VENV)/bin/ruff check llmops_magics tests benchmarks
	$(VENV)/bin/ruff format --check llmops_magics tests benchmarks
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q --durations=10 $(PYTEST_ARGS)

test: lint pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_foundation.py

clean:
	rm -rf $(VENV) .llmops .pytest_cache .mypy_cache .ruff_cache
