"""The Dockerfile, checked without a Docker engine: its structure, and what its build stage installs,
run for real in a fresh virtual environment (the same script, the same dependency list)."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import grpc
import pytest

from tests.support.bundles import airbnb_record
from tests.support.dockerfile import DOCKERFILE, DOCKERIGNORE, build_context, ignore_patterns, ignored, parse
from tests.support.metrics_text import samples, scrape, value
from tests.support.servers import REPO, free_port, health_status

TRAINING = re.compile(r"\b(openjdk|default-jre|default-jdk|java|jdk|jre|pyspark|spark|mleap|gcc|g\+\+|clang|"
                      r"build-essential|make)\b", re.IGNORECASE)


def serve_flags() -> set[str]:
    from leapserve.cli import serve
    from leapserve.cli.environment import env_name

    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    return {env_name(o) for a in p._actions for o in a.option_strings if o.startswith("--")} - {"LEAPSERVE_HELP"}


@pytest.fixture(scope="module")
def dockerfile():
    return parse(DOCKERFILE)


def test_final_stage_structure(dockerfile):
    args, stages = dockerfile
    assert len(stages) >= 2, "a multi-stage build"
    final = stages[-1]
    build = stages[0]
    assert build.name and final.name is None
    base = args.get("PYTHON_IMAGE", "")
    assert base.startswith("python:3.11-slim") and final.base in (base, "${PYTHON_IMAGE}")
    # Non-root, fixed uid, group 0.
    users = final.all("USER")
    assert users and users[-1].args == "10001:0"
    # exec-form ENTRYPOINT `leapserve serve`.
    entry = final.all("ENTRYPOINT")
    assert len(entry) == 1 and entry[0].exec_form() == ["leapserve", "serve"]
    # HEALTHCHECK with `leapserve health`, exec form.
    health = final.all("HEALTHCHECK")
    assert len(health) == 1 and health[0].exec_form()[:2] == ["leapserve", "health"]
    # Ports: gRPC and the metrics port the image turns on.
    env = final.env()
    exposed = {p.split("/")[0] for i in final.all("EXPOSE") for p in i.args.split()}
    assert exposed == {"50051", env["LEAPSERVE_METRICS_PORT"]}
    assert env["LEAPSERVE_MODEL_DIR"] == "/models" and env["LEAPSERVE_HOST"] == "0.0.0.0"
    assert "/opt/leapserve/bin" in env["PATH"].split(":")
    # Every LEAPSERVE_* variable is a real setting of `leapserve serve`.
    assert {k for k in env if k.startswith("LEAPSERVE_")} <= serve_flags()
    # docker stop waits 10 s by default: drain and grace fit.
    assert float(env["LEAPSERVE_DRAIN_SECONDS"]) + float(env["LEAPSERVE_GRACE_PERIOD"]) < 10
    # OCI labels.
    labels = " ".join(i.args for i in final.all("LABEL"))
    for key in ("title", "description", "version", "licenses", "revision", "created"):
        assert f"org.opencontainers.image.{key}=" in labels
    # Nothing for training and no installer in the final stage: only the build stage's venv is copied.
    for i in final.instructions:
        assert not TRAINING.search(i.args if i.keyword != "LABEL" else ""), f"line {i.line}: {i.args}"
        assert "pip" not in i.args.split() and "apt-get" not in i.args, f"line {i.line}: {i.args}"
    copies = final.all("COPY")
    assert copies and all(c.options().get("from") == build.name for c in copies)
    assert [c.args.split()[-2:] for c in copies] == [["/opt/leapserve", "/opt/leapserve"]]


def file_modes(stage) -> dict[str, tuple[str, int]]:
    """path -> (owner "uid:gid", mode) after the stage's RUN mkdir / chown / chmod commands (folders a
    RUN creates start as root:root 0755, as mkdir makes them)."""
    names = {"root": "0", "leapserve": "10001"}
    files: dict[str, tuple[str, int]] = {}
    for run in stage.all("RUN"):
        for command in run.args.split("&&"):
            words = shlex.split(command)
            if not words:
                continue
            paths = [w for w in words[1:] if w.startswith("/")]
            if words[0] == "mkdir":
                for path in paths:
                    files.setdefault(path, ("0:0", 0o755))
            elif words[0] == "chown":
                user, _, group = [w for w in words[1:] if not w.startswith("-")][0].partition(":")
                owner = f"{names.get(user, user)}:{names.get(group, group) or '0'}"
                for path in paths:
                    files[path] = (owner, files.get(path, ("0:0", 0o755))[1])
            elif words[0] == "chmod":
                mode = int([w for w in words[1:] if not w.startswith("-")][0], 8)
                for path in paths:
                    files[path] = (files.get(path, ("0:0", 0o755))[0], mode)
    return files


def test_models_are_read_only_to_the_runtime_user(dockerfile):
    _, stages = dockerfile
    final = stages[-1]
    uid, gid = final.all("USER")[-1].args.split(":")
    files = file_modes(final)
    owner, mode = files["/models"]
    # Not the runtime user's, and not writable by its group (group 0) nor by anyone else.
    assert owner.split(":")[0] not in (uid, "leapserve") and owner.split(":")[0] == "0", owner
    assert not mode & 0o022, oct(mode)
    # The socket's folder is the one place it writes (group-writable: a random uid keeps group 0).
    owner, mode = files["/run/leapserve"]
    assert owner == f"{uid}:{gid}" and mode & 0o020, (owner, oct(mode))
    # Nothing copied into /models, nor given to the user there some other way.
    for i in final.all("COPY") + final.all("ADD"):
        assert not i.args.split()[-1].startswith("/models"), i.args
        assert "chown" not in i.options() and "chmod" not in i.options(), i.args
    assert not any(i.args.startswith("/models") for i in final.all("VOLUME"))


def test_build_stage_copies_only_the_serving_sources(dockerfile):
    _, stages = dockerfile
    build = stages[0]
    patterns = ignore_patterns(DOCKERIGNORE)
    sources = []
    for c in build.all("COPY"):
        assert "from" not in c.options()
        sources += c.args.split()[:-1]
    for src in sources:
        assert (REPO / src).exists(), src
        assert not ignored(src, patterns), f".dockerignore leaves {src} out of the build context"
    # The whole leapserve package (the training side's modules import pyspark only when called).
    assert {"pyproject.toml", "leapserve", "server", "bundler"} <= set(sources)
    assert not any(s.startswith("tests") for s in sources)
    for never in (".venv", ".venv/bin/python", "build/examples", "tests/deploy/test_image.py",
                  ".git/HEAD", "server/__pycache__/app.cpython-311.pyc", "docs/serving.md"):
        assert ignored(never, patterns), never
    runs = " ".join(i.args for i in build.all("RUN"))
    assert "install-serving.sh /opt/leapserve /src" in runs


# --- the install, for real -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def serving_venv(tmp_path_factory):
    work = tmp_path_factory.mktemp("image")
    context = build_context(work / "src")
    venv = work / "opt-leapserve"
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PIP_NO_CACHE_DIR", None)  # the image builds without a cache; a test may reuse downloads
    r = subprocess.run(["sh", str(REPO / "deploy" / "image" / "install-serving.sh"), str(venv), str(context)],
                       capture_output=True, text=True, env=env, timeout=900)
    if r.returncode != 0:
        network = ("Could not find a version", "No matching distribution", "Failed to establish",
                   "Temporary failure in name resolution", "Network is unreachable")
        if any(n in r.stderr for n in network):
            pytest.skip(f"the package index cannot be reached: {r.stderr.strip().splitlines()[-1]}")
        raise AssertionError(f"install-serving.sh failed:\n{r.stdout}\n{r.stderr}")
    return venv


def requirement(text: str) -> tuple[str, tuple[str, ...]]:
    """(name, specifiers) of a requirement, however its specifiers are ordered or spaced."""
    text = text.split(";")[0].replace(" ", "")
    name = re.match(r"[A-Za-z0-9_.\-]+(\[[^]]*\])?", text).group(0)
    return name.lower().replace("_", "-"), tuple(sorted(filter(None, text[len(name):].split(","))))


def venv_python(venv: Path, code: str) -> str:
    r = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_the_install_holds_the_main_dependencies_and_nothing_for_training(serving_venv):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requires = venv_python(serving_venv, "import importlib.metadata as m; print('\\n'.join(m.requires('leapserve')))")
    main = [r for r in requires.splitlines() if "extra ==" not in r]
    assert sorted(map(requirement, main)) == sorted(map(requirement, project["dependencies"]))
    installed = venv_python(serving_venv, "import importlib.metadata as m; print('\\n'.join(sorted("
                                          "d.metadata['Name'].lower() for d in m.distributions())))")
    names = set(installed.splitlines())
    assert not names & {"pyspark", "mleap", "py4j", "pandas", "pyarrow", "pytest", "grpcio-tools", "pip", "setuptools"}
    site = Path(venv_python(serving_venv, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    assert not (site / "pyspark").exists()
    assert not list(serving_venv.rglob("*.jar"))
    # Compiled ahead: the image's user cannot write next to the modules.
    assert (site / "leapserve" / "server" / "__pycache__").is_dir()
    size_mb = sum(f.stat().st_size for f in serving_venv.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    assert size_mb < 120, f"the serving environment grew to {size_mb:.0f} MB (image target: 250 MB with the base)"


def test_the_install_serves_with_the_images_settings(serving_venv, rf_bundle, tmp_path):
    """The image's ENV (ports and paths moved to free ones), its ENTRYPOINT and its HEALTHCHECK."""
    _, stages = parse(DOCKERFILE)
    final = stages[-1]
    image_env = final.env()
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(rf_bundle, models / "airbnb_rf.zip")
    grpc_port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAPSERVE_")}
    env.update({k: v for k, v in image_env.items() if k.startswith(("LEAPSERVE_", "PYTHON"))})
    env.update({"PATH": f"{serving_venv / 'bin'}:{env['PATH']}", "LEAPSERVE_MODEL_DIR": str(models),
                "LEAPSERVE_HOST": "127.0.0.1", "LEAPSERVE_PORT": str(grpc_port),
                "LEAPSERVE_METRICS_PORT": str(metrics_port)})
    entry = final.all("ENTRYPOINT")[0].exec_form()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(entry, env=env, cwd=models, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        healthcheck = final.all("HEALTHCHECK")[0].exec_form() + ["--wait", "60"]
        r = subprocess.run(healthcheck, env=env, capture_output=True, text=True, timeout=90)
        assert r.returncode == 0, (r.stderr, (tmp_path / "server.log").read_text())
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as ch:
            assert health_status(ch, "model:airbnb_rf") == "SERVING"
        import json

        r = subprocess.run(["leapserve", "predict", "--model", "airbnb_rf", "--json", json.dumps(airbnb_record()),
                            "--output", "price_prediction"], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["price_prediction"] > 0
        m = samples(scrape(metrics_port))
        assert value(m, "leapserve_requests_total", model="airbnb_rf", rpc="Predict", code="OK") == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert f"draining for {float(image_env['LEAPSERVE_DRAIN_SECONDS']):.1f} s" in text


def test_the_training_commands_say_what_to_install(serving_venv, rf_bundle, tmp_path):
    """`leapserve export` and `score` on the serving install, as in the image (no pyspark, no Java,
    no MLeap jars): one line naming what is missing and the pip command, before anything else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAPSERVE_", "JAVA_HOME", "PYTHON"))}
    env.update({"PATH": str(serving_venv / "bin"), "LEAPSERVE_CACHE": str(tmp_path / "cache")})
    model = tmp_path / "spark-model"
    (model / "metadata").mkdir(parents=True)
    (model / "metadata" / "part-00000").write_text('{"class": "org.apache.spark.ml.PipelineModel"}\n')
    rows = tmp_path / "rows.csv"
    rows.write_text("bathrooms,bedrooms\n1.0,2.0\n")
    commands = {
        "export": (["--spark-model", model, "--sample", rows, "--output", tmp_path / "model.zip"], "pyspark is"),
        "score": (["--bundle", rf_bundle, "--input", rows, "--output", tmp_path / "scored"],
                  "pyspark, pyarrow and pandas are"),
    }
    for command, (args, missing) in commands.items():
        r = subprocess.run(["leapserve", command, *map(str, args)], env=env, capture_output=True, text=True,
                           timeout=60, cwd=tmp_path)
        assert (r.returncode, r.stdout) == (1, ""), (command, r.returncode, r.stdout, r.stderr)
        assert r.stderr == (f"leapserve {command}: error: {missing} not installed: the training side needs "
                            f"`pip install 'leapserve[bundler]'`\n"), r.stderr
        r = subprocess.run(["leapserve", command, "--help"], env=env, capture_output=True, text=True, timeout=60,
                           cwd=tmp_path)
        assert r.returncode == 0 and r.stdout.startswith(f"usage: leapserve {command} "), r.stderr

    # The library says the same, as an error of its own that is also an ImportError.
    code = ("import leapserve.bundler as b\n"
            "try:\n    b.spark_session()\n"
            "except b.BundlerError as e:\n    print(type(e).__name__, isinstance(e, ImportError), e.missing, e)\n")
    r = subprocess.run([str(serving_venv / "bin" / "python"), "-c", code], env=env, capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)  # not the repository, whose leapserve/ would come first
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("PackagesMissing True ['pyspark'] pyspark is not installed: the training side needs "
                        "`pip install 'leapserve[bundler]'`\n")
