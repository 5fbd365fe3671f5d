"""One rule for paths and variables across the commands (the real `leapserve` command): a path given
that does not exist, or a malformed LEAPSERVE_* limit, is a usage error (exit 2); a bundle that
exists but cannot serve is a failure (exit 1). Each error names the path once."""

from __future__ import annotations

from tests.support.bundles import RF_ZIP
from tests.support.servers import run_cli


def one_error(r, command: str, code: int) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"leapserve {command}: error: "), r.stderr
    return lines[0][len(f"leapserve {command}: error: "):]


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path):
    missing = tmp_path / "nope.zip"
    assert one_error(run_cli("inspect", missing), "inspect", 2) == f"{missing}: no such file or directory"
    assert one_error(run_cli("inspect", f"jar:file:{missing}"), "inspect", 2) == \
        f"jar:file:{missing}: no such file or directory"
    r = run_cli("score", "--bundle", missing, "--input", tmp_path / "rows.csv", "--output", tmp_path / "out")
    assert one_error(r, "score", 2) == f"--bundle {missing}: no such file or directory"  # the path said once
    r = run_cli("score", "--bundle", RF_ZIP, "--input", tmp_path / "rows.csv", "--output", tmp_path / "out")
    assert one_error(r, "score", 2) == f"--input {tmp_path / 'rows.csv'}: no such file or directory"
    # as serve, predict and inspect --model-dir already said
    assert run_cli("serve", "--model", f"m={missing}").returncode == 2
    assert run_cli("predict", "--model", "m", "--file", missing).returncode == 2
    assert run_cli("inspect", "--model-dir", tmp_path / "none").returncode == 2


def test_a_bundle_that_exists_but_cannot_serve_is_a_failure(tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    assert one_error(run_cli("inspect", broken), "inspect", 1) == \
        f"{broken}: neither a bundle directory nor a zip archive"
    r = run_cli("score", "--bundle", broken, "--input", tmp_path, "--output", tmp_path / "out")
    assert one_error(r, "score", 1) == f"--bundle {broken}: neither a bundle directory nor a zip archive"


def test_a_malformed_limit_variable_is_a_usage_error(tmp_path):
    message = "LEAPSERVE_MAX_BUNDLE_BYTES='abc' is not a number (e.g. 1000, 64M, 1G)"
    env = {"LEAPSERVE_MAX_BUNDLE_BYTES": "abc"}
    assert one_error(run_cli("inspect", RF_ZIP, env=env), "inspect", 2) == message
    assert one_error(run_cli("inspect", "--model-dir", tmp_path, env=env), "inspect", 2) == message
    r = run_cli("score", "--bundle", RF_ZIP, "--input", tmp_path, "--output", tmp_path / "out", env=env)
    assert one_error(r, "score", 2) == message
    assert one_error(run_cli("serve", "--model", f"m={RF_ZIP}", env=env), "serve", 2) == message


def test_the_regex_timeout_is_listed_and_its_error_fits():
    """--help left LEAPSERVE_REGEX_TIMEOUT_MS out, and its error suggested 64M for milliseconds."""
    for command in ("inspect", "serve", "score"):
        assert "LEAPSERVE_REGEX_TIMEOUT_MS" in run_cli(command, "--help").stdout, command
    r = run_cli("inspect", RF_ZIP, env={"LEAPSERVE_REGEX_TIMEOUT_MS": "soon"})
    assert one_error(r, "inspect", 2) == "LEAPSERVE_REGEX_TIMEOUT_MS='soon' is not a number (e.g. 500 or 2000, in milliseconds)"
