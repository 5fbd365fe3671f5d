#!/bin/sh
# Installs leapserve's serving side into a new virtual environment: exactly what the container image
# runs (the Dockerfile's build stage calls this script, and tests/deploy/test_image.py runs it too).
#
#   sh deploy/image/install-serving.sh VENV SOURCE
#
# VENV: the virtual environment to create (/opt/leapserve in the image). SOURCE: a copy of the
# project holding pyproject.toml, leapserve/, server/ and bundler/. The dependencies are
# pyproject.toml's main list and nothing else: no training extras (pyspark, mleap), no JVM, no
# compilers. The interpreter is $PYTHON (default python3); its pip (22.3 or later) does the installing.
# $EXTRAS (default none) names extras to add, e.g. EXTRAS=xgboost for XGBoost models (the
# Dockerfile's build argument of the same name).
set -eu
venv=$1
src=$2
python=${PYTHON:-python3}
target=$src
if [ -n "${EXTRAS:-}" ]; then
    target="$src[$EXTRAS]"
fi

# The environment gets no installer of its own: the interpreter's pip installs into it (--python).
"$python" -m venv --without-pip "$venv"
"$python" -m pip --python "$venv/bin/python" install --quiet --disable-pip-version-check "$target"

# Nothing below is used at run time: numpy's own test suite, its C headers and f2py.
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -rf "$site"/numpy/*/tests "$site"/numpy/tests "$site"/numpy/_core/include
# scipy (XGBoost's dependency, EXTRAS=xgboost) reaches numpy.f2py through `from numpy import *`;
# its own test suites are not used either
if [ -d "$site/scipy" ]; then
    rm -rf "$site"/scipy/*/tests "$site"/scipy/*/*/tests
else
    rm -rf "$site"/numpy/f2py
fi
find "$venv" -name '__pycache__' -type d -prune -exec rm -rf {} +

# Compile every module now: the image's files are read-only to the server's user, and a start that
# compiles its modules first is several times slower.
"$venv/bin/python" -m compileall -q -j 0 "$site" >/dev/null
"$venv/bin/leapserve" serve --help >/dev/null
