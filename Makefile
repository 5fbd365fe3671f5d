# Two commands matter: `make demo` and `make test`. Both set up what they need first
# (virtual environment in .venv/, Python packages, MLeap jars in a cache outside git)
# and are quick when everything is already in place.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup venv jars demo test proto clean

setup: venv jars

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

# pytest exits 5 when it collected no tests: that is a broken suite, so it fails here too.
test: setup
	@$(PY) -m pytest --durations=15 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Regenerate the protobuf code from protos/ (a test checks it is up to date).
proto: $(STAMP)
	$(PY) -m tools.protogen

clean:
	rm -rf build .pytest_cache
