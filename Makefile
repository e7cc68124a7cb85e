# The two commands of the Quick start. Both set up .venv on first use (and again when
# pyproject.toml changes), so a fresh machine needs nothing but Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dask]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rnaheat demo --out demo --force

# `make test` stays within minutes on 2 cores (pytest-xdist spreads the tests over every core);
# the slow set (minutes of work each) runs in CI through `make test-slow`.
test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -m "not slow" -n auto

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -n auto

# The report's browser tests drive Debian's Chromium (a browser cannot be downloaded by a
# test tool here). Installed when missing and possible; without it those tests skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium for the browser tests"; \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium not found and cannot be installed: browser tests will skip"; fi; }

# The report's script is linted by ESLint (package.json, eslint.config.js) when Node is here.
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
	  [ -d node_modules/eslint ] || npm ci --no-audit --no-fund --silent; \
	  npx --no-install eslint src/rnaheat/report/assets/js && echo "eslint: the report script is clean"; \
	else echo "Node.js not found: the report script's ESLint check is skipped"; fi
