# The two commands of the README:
#   make demo   install everything into .venv and run the demo pipeline on the embedded model
#   make test   install everything into .venv, lint, type-check and run the test suite
#   make lab    JupyterLab on the example notebooks, with the kernel set-up registered
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo lab test lint pytest bench clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $@

demo: $(STAMP)
	$(VENV)/bin/llmops pipeline run pipelines/demo.yaml

# the venv's JupyterLab (set-up installs it with Notebook 7) offers the venv's kernel,
# "Python 3 (llmops-magics)"; open http://localhost:8888/tree for Notebook 7's interface
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check llmops_magics tests benchmarks
	$(VENV)/bin/ruff format --check llmops_magics tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# the suite runs in $(PYTEST_WORKERS) processes (pytest-xdist); each test file stays in one
# process (tests/conftest.py groups them), the slow docs pages spread out; PYTEST_WORKERS=0 runs
# it in this process
PYTEST_WORKERS ?= 2

pytest: $(STAMP)
	$(PY) -m pytest -q --durations=10 -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test: lint pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_foundation.py

clean:
	rm -rf $(VENV) .llmops .pytest_cache .mypy_cache .ruff_cache
