"""The Java and Go clients of docs/serving.md (docs/examples/java, docs/examples/go) generate their
stubs from protos/ with the protos' java_package / go_package, build, and score a record against a
real server on loopback, with the answer the native runtime gives.

Builds go to the cache ($LEAPSERVE_CACHE/examples, else ~/.cache/leapserve/examples), one folder
per digest of the example's sources and the protos, so a rerun only runs the client; Maven's and Go's own caches
(~/.m2, Go's module and build caches) keep the first build of a new digest short. A missing
toolchain (java, mvn, go) skips its test; a toolchain that is there but fails (a download refused,
a compile error) fails it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leapserve.bundler.jars import build_once, cache_dir, digest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
PROTOS = REPO / "protos"
V1_PROTOS = sorted((PROTOS / "leapserve" / "v1").glob("*.proto"))
BUNDLE = REPO / "tests" / "fixtures" / "mleap" / "demo.zip"  # written by MLeap: 3 doubles -> vectors, prediction
RECORD = {"demo:a": 1.5, "demo:c": -2.0, "demo:d": 7.25}
BUILD_TIMEOUT = 900  # the first build of a new machine downloads grpc-java or grpc-go and protoc


def _needs(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: the example client cannot be built here")


def _cached_build(kind: str, sources: list[Path], build) -> Path:
    """The build folder of these sources, built once per digest. Builds of other digests are left
    alone: the cache is shared by every checkout on the machine, whose protos may differ."""
    where = cache_dir() / "examples" / f"{kind}-{digest(*sources)}"
    build_once(where, build)
    return where


def _run(command: list, cwd: Path | None = None, timeout: float = BUILD_TIMEOUT) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def _build_java() -> Path:
    sources = sorted((EXAMPLES / "java").rglob("*.java")) + [EXAMPLES / "java" / "pom.xml"] + V1_PROTOS

    def build(out: Path) -> None:
        _run(["mvn", "-q", "-B", "-Dstyle.color=never", "-f", EXAMPLES / "java" / "pom.xml",
              f"-Dbuild.dir={out / 'target'}", f"-Dprotos.dir={PROTOS}",
              "compile", "dependency:build-classpath", f"-Dmdep.outputFile={out / 'classpath.txt'}"])

    return _cached_build("java", sources, build)


def _java_client(where: Path, *args) -> list[str]:
    classpath = f"{where / 'target' / 'classes'}{os.pathsep}{(where / 'classpath.txt').read_text().strip()}"
    return ["java", "-cp", classpath, "dev.leapserve.examples.PredictClient", *args]


def _build_go() -> Path:
    files = ["main.go", "go.mod", "go.sum"]
    sources = [EXAMPLES / "go" / f for f in files] + V1_PROTOS

    def build(out: Path) -> None:
        # The commands docs/serving.md gives, in a copy outside the checkout (gen/ is generated).
        for f in files:
            shutil.copy(EXAMPLES / "go" / f, out / f)
        (out / "gen").mkdir()
        (out / "gen" / "go.mod").write_text("module leapserve.dev/gen/go\n\ngo 1.24\n")
        _run(["go", "build", "-o", "bin/", "google.golang.org/protobuf/cmd/protoc-gen-go",
              "google.golang.org/grpc/cmd/protoc-gen-go-grpc"], cwd=out)
        _run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}",
              "--plugin=protoc-gen-go=bin/protoc-gen-go", "--plugin=protoc-gen-go-grpc=bin/protoc-gen-go-grpc",
              "--go_out=gen", "--go_opt=module=leapserve.dev/gen/go",
              "--go-grpc_out=gen", "--go-grpc_opt=module=leapserve.dev/gen/go", *V1_PROTOS], cwd=out)
        _run(["go", "build", "-o", "predict-client", "."], cwd=out)
        shutil.rmtree(out / "bin")  # the protoc plugins: only the client is run later

    return _cached_build("go", sources, build)


def _outputs(stdout: str) -> dict[str, str]:
    """'name = value' lines -> {name: value}."""
    return dict(line.split(" = ", 1) for line in stdout.splitlines() if " = " in line and not line.startswith("model = "))


def _numbers(text: str) -> list[float]:
    """The numbers of a printed double or dense vector: Java's "[1.5, -2.0]", Go's "[1.5 -2]"."""
    return [float(n) for n in re.split(r"[\s,]+", text.strip("[]").strip())]


@pytest.fixture(scope="module")
def demo_server(start_module_server):
    return start_module_server("--model", f"demo={BUNDLE}")


def _expected() -> dict[str, list[float]]:
    import leapserve

    return {name: list(value) if hasattr(value, "__len__") else [value]
            for name, value in leapserve.load_bundle(BUNDLE).transform(RECORD).items()}


def _check_answer(done: subprocess.CompletedProcess) -> None:
    assert done.stdout.splitlines()[0] == "model = demo, version = 1", done.stdout
    got = {name: _numbers(text) for name, text in _outputs(done.stdout).items()}
    assert got == _expected(), done.stdout  # doubles cross the wire and print exactly (shortest form)


def _check_error(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    # Each language names the gRPC code its own way: Java INVALID_ARGUMENT, Go InvalidArgument.
    assert re.match(r"(INVALID_ARGUMENT|InvalidArgument): ", done.stderr), done.stderr
    assert "demo:a" in done.stderr, done.stderr


def _record_args() -> list[str]:
    return [f"{k}={v}" for k, v in RECORD.items()]


def test_java_client(demo_server):
    _needs("java", "mvn")
    where = _build_java()
    _check_answer(_run(_java_client(where, demo_server.address, "demo", *_record_args()), timeout=60))
    _check_error(subprocess.run(_java_client(where, demo_server.address, "demo", "demo:c=1"),
                                capture_output=True, text=True, timeout=60))


def test_go_client(demo_server):
    _needs("go")
    where = _build_go()
    client = where / "predict-client"
    _check_answer(_run([client, demo_server.address, "demo", *_record_args()], timeout=60))
    _check_error(subprocess.run([str(client), demo_server.address, "demo", "demo:c=1"],
                                capture_output=True, text=True, timeout=60))


def test_java_and_go_print_alike(demo_server):
    """The same lines from both clients: outputs sorted by name, numbers as Java prints a double (Go
    printed 1 where Java printed 1.0, and Java kept the map's order)."""
    _needs("java", "mvn", "go")
    java = _run(_java_client(_build_java(), demo_server.address, "demo", *_record_args()), timeout=60).stdout
    go = _run([_build_go() / "predict-client", demo_server.address, "demo", *_record_args()], timeout=60).stdout
    assert java == go, (java, go)
    names = list(_outputs(go))
    assert names == sorted(names) and "demo:prediction" in names, go
    assert all(re.fullmatch(r"-?\d+\.\d+", n) for n in re.split(r"[\s,\[\]]+", _outputs(go)["demo:prediction"]) if n), go
