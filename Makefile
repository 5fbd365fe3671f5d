# Two commands matter: `make demo` and `make test`. Both set up what they need first
# (virtual environment in .venv/, Python packages, MLeap jars in a cache outside git)
# and are quick when everything is already in place.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

# The other Python versions pyproject declares (its classifiers). Each gets the serving install
# in .venv-py3.X and runs the tests that need no Spark (pyspark 3.5 stops at Python 3.11); the
# interpreter comes from pyenv's versions, else python3.X on PATH.
THIS_PYTHON   := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
OTHER_PYTHONS := $(filter-out $(THIS_PYTHON),$(shell sed -n 's/.*"Programming Language :: Python :: \(3\.[0-9][0-9]*\)".*/\1/p' pyproject.toml))
PYENV_ROOT    ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
python_of      = $(firstword $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)) $(shell command -v python$(1)))
# What the other Pythons run: the golden set, MLeap's fixture bundles against MLeap's own runtime,
# the Spark-free op tests, the codec, a server's life (shutdown, 1,000 open streams, health Watch) and the CLI (--without-spark leaves out the
# tests in these files that use the Spark session); the JVM emulation, input casts and attribute
# reading, and the hostile bundles, where Python's Unicode data and zipfile differ between versions;
# bundle regexes, run by the regex package's wheel for each Python.
PORTABLE_TESTS := tests/runtime/test_golden.py tests/runtime/test_fixtures.py tests/runtime/ops/test_mleap_extensions.py \
                  tests/server/test_codec.py tests/server/test_shutdown.py tests/server/test_streams.py tests/server/test_health_watch.py tests/cli/test_inspect.py tests/cli/test_serve.py \
                  tests/cli/test_predict.py tests/cli/test_health.py \
                  tests/runtime/jvm tests/runtime/test_casting.py tests/runtime/test_attributes.py \
                  tests/reliability/test_hostile_bundles.py tests/reliability/test_bundle_regex.py

.PHONY: setup venv pythons jars demo test proto clean

setup: venv pythons jars

pythons: $(foreach v,$(OTHER_PYTHONS),$(VENV)-py$(v)/.installed)

# numpy as in .venv: its BLAS, not Python, decides the last bits of wide matrix products.
$(VENV)-py%/.installed: pyproject.toml $(STAMP)
	@test -n "$(call python_of,$*)" || { echo "Python $* not found (pyenv or PATH); pyproject declares it" >&2; exit 1; }
	@test -x $(VENV)-py$*/bin/python || $(call python_of,$*) -m venv $(VENV)-py$*
	$(VENV)-py$*/bin/python -m pip install --quiet --upgrade pip
	$(VENV)-py$*/bin/python -m pip install --quiet -e . 'pytest>=8' \
	    "numpy==$$($(PY) -c 'import numpy; print(numpy.__version__)')"
	@touch $@

venv: $(STAMP)

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[bundler,dev]'
	@touch $@

# MLeap's jars through Maven into ~/.cache/leapserve (or $$LEAPSERVE_CACHE): the Spark serializer
# for export, the JVM runtime for tests and benches (tools/mleap_jvm); no-op when present.
jars: $(STAMP)
	@$(PY) -m leapserve.bundler.jars fetch
	@$(PY) -m tools.mleap_jvm fetch

demo: setup
	$(PY) -m leapserve.bundler.examples --out build/examples
	$(VENV)/bin/leapserve inspect build/examples/penguins_species/bundle-json.zip
	@# Serve the example on a Unix socket (no port to collide with), score one penguin, stop the
	@# server: the trap stops it on success and on failure alike.
	@set -e; sock=build/leapserve-demo.sock; \
	$(VENV)/bin/leapserve serve --uds $$sock --reload-interval 0 \
	    --model penguins_species=build/examples/penguins_species/bundle-json.zip & pid=$$!; \
	trap 'kill -TERM $$pid 2>/dev/null && wait $$pid; echo "demo server stopped"' EXIT; \
	$(VENV)/bin/leapserve health --address unix:$$sock --wait 30; \
	echo 'leapserve predict: {"island": "Biscoe", "sex": "male", "bill_length_mm": 48.6, "bill_depth_mm": 16.0, "flipper_length_mm": 230.0, "body_mass_g": 5800.0}'; \
	$(VENV)/bin/leapserve predict --address unix:$$sock --model penguins_species \
	    --output predicted_species --output probability \
	    --json '{"island": "Biscoe", "sex": "male", "bill_length_mm": 48.6, "bill_depth_mm": 16.0, "flipper_length_mm": 230.0, "body_mass_g": 5800.0}'

# pytest exits 5 when it collected no tests: that is a broken suite, so it fails here too. Every
# run happens; the target fails if any did.
test: setup
	@fail=0; \
	$(PY) -m pytest --durations=15 $(PYTEST_ARGS) || fail=$$?; \
	for v in $(OTHER_PYTHONS); do \
	    echo "== Python $$v: $(PORTABLE_TESTS)"; \
	    $(VENV)-py$$v/bin/python -m pytest -q -p no:cacheprovider --without-spark $(PORTABLE_TESTS) || fail=$$?; \
	done; \
	if [ $$fail -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$fail

# Regenerate the protobuf code from protos/ (a test checks it is up to date).
proto: $(STAMP)
	$(PY) -m tools.protogen

clean:
	rm -rf build .pytest_cache
