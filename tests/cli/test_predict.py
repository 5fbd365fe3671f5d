"""`leapserve predict` as a user runs it (the real command, in a subprocess) against a real server on
loopback: no traceback whatever the input, errors naming the input file's lines whatever
--batch-size, outputs in the order asked for (else the pipeline's), and its documented exit codes."""

from __future__ import annotations

import json

import pytest

from tests.support.bundles import RF_ZIP, airbnb_record, json_lr_entries, write_zip
from tests.support.servers import free_port, run_cli

LR_OUTPUTS = ["features", "prediction"]  # the handmade bundle's pipeline order


@pytest.fixture(scope="module")
def server(start_module_server, tmp_path_factory):
    """lr: a handmade linear bundle (prediction = 0.5 + a + 10 b); rf: MLeap's airbnb forest (nine outputs)."""
    lr = write_zip(tmp_path_factory.mktemp("bundles") / "lr.zip", json_lr_entries([1.0, 10.0], 0.5))
    return start_module_server("--model", f"lr={lr}", "--model", f"rf={RF_ZIP}", "--reload-interval", "0")


def predict(server, *args, input=None):
    return run_cli("predict", "--address", server.address, *args, input=input)


def assert_one_error(r, code: int) -> str:
    """Exit code ``code``, stderr one line `leapserve predict: error: ...` (besides the line naming the
    version that answered) and no traceback; the message."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if not line.endswith(" answered")]
    assert len(lines) == 1 and lines[0].startswith("leapserve predict: error: "), r.stderr
    return lines[0][len("leapserve predict: error: "):]


def test_file_missing_or_a_directory(server, tmp_path):
    r = predict(server, "--model", "lr", "--file", tmp_path / "none.jsonl")
    assert assert_one_error(r, 2) == f"--file {tmp_path / 'none.jsonl'}: no such file"
    r = predict(server, "--model", "lr", "--file", tmp_path)
    assert assert_one_error(r, 2) == f"--file {tmp_path}: is a directory, not a file of records"
    assert r.stdout == ""


@pytest.mark.parametrize("batch_size", ["1", "2", "1000"])
def test_errors_name_the_line_of_the_file(server, tmp_path, batch_size):
    """Each record gets one output line in its place; errors name the record's line in the file
    (1-based, blank lines counted), not its position in a PredictBatch call."""
    records = tmp_path / "records.jsonl"
    records.write_bytes(b'{"a": 1, "b": 2}\n'        # line 1
                        b'\n'                         # 2: blank, skipped
                        b'{"a": 2, "b": 0}\n'         # 3
                        b'{"a": "x", "b": 1}\n'       # 4: refused by the model
                        b'not json\n'                 # 5: refused here
                        b'[1, 2]\n'                   # 6: not an object
                        b'{"a": 1, "b": "\xff"}\n'    # 7: not UTF-8
                        b'{"a": 3, "b": 1}\n')        # 8
    r = predict(server, "--model", "lr", "--file", records, "--batch-size", batch_size)
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(out) == 7
    assert out[0] == {"features": [1.0, 2.0], "prediction": 21.5}
    assert out[1] == {"features": [2.0, 0.0], "prediction": 2.5}
    assert out[2]["line"] == 4 and out[2]["error"].startswith("line 4, field 'a': expected double")
    assert out[3]["line"] == 5 and out[3]["error"].startswith("line 5: invalid JSON")
    assert out[4] == {"error": "line 6: expected a JSON object, got list", "line": 6}
    assert out[5]["line"] == 7 and out[5]["error"].startswith("line 7: not UTF-8 text")
    assert out[6] == {"features": [3.0, 1.0], "prediction": 13.5}
    assert assert_one_error(r, 1) == "4 of 7 records not scored (lines 4, 5, 6, 7; see their output lines)"


def test_outputs_in_the_order_asked_else_the_pipelines(server):
    record = json.dumps(airbnb_record())
    r = predict(server, "--model", "rf", "--json", record)
    assert r.returncode == 0, r.stderr
    pipeline_order = ["unscaled_continuous_features", "scaled_continuous_features", "room_type_index",
                      "host_is_superhost_index", "cancellation_policy_index", "instant_bookable_index",
                      "state_index", "features_rf", "price_prediction"]
    assert list(json.loads(r.stdout)) == pipeline_order  # a protobuf map of nine keys comes in another order
    asked = ["price_prediction", "state_index", "room_type_index", "features_rf"]
    r = predict(server, "--model", "rf", "--json", record, "--select", "price_prediction", "state_index",
                "--select", "room_type_index,features_rf")
    assert r.returncode == 0, r.stderr
    assert list(json.loads(r.stdout)) == asked
    r = predict(server, "--model", "rf", "--file", "-", "--select", ",".join(reversed(pipeline_order)),
                input=f"{record}\n{record}\n")
    assert r.returncode == 0, r.stderr
    assert [list(json.loads(line)) for line in r.stdout.splitlines()] == [list(reversed(pipeline_order))] * 2


def test_old_option_name_still_works_with_a_note(server):
    r = predict(server, "--model", "lr", "--json", '{"a": 1, "b": 2}', "--output", "prediction")
    assert r.returncode == 0 and json.loads(r.stdout) == {"prediction": 21.5}
    assert r.stderr == ("leapserve predict: warning: --output is deprecated; use --select (same meaning)\n"
                        "leapserve predict: model lr version 1 answered\n")


def test_exit_codes(server, tmp_path):
    assert predict(server, "--model", "lr", "--json", '{"a": 1, "b": 2}').returncode == 0
    # 1: the server refuses the record or the call
    r = predict(server, "--model", "lr", "--json", '{"a": "x", "b": 2}')
    assert assert_one_error(r, 1).startswith("INVALID_ARGUMENT: field 'a': expected double")
    r = predict(server, "--model", "nope", "--file", "-", input='{"a": 1}\n{"a": 2}\n')
    assert assert_one_error(r, 1).startswith("lines 1-2: NOT_FOUND: unknown model 'nope'")
    # 2: usage
    r = predict(server, "--model", "lr", "--json", "[1, 2]")
    assert assert_one_error(r, 2) == "--json: expected a JSON object, got list"
    r = predict(server, "--model", "lr", "--json", '{"a": 1e999999, "b": 99999999999999999999999}')
    assert assert_one_error(r, 2) == ("--json: field 'b': cannot encode the value as a leapserve.v1.Value: expected an "
                                      "integer that fits in 64 bits, got integer 99999999999999999999999")
    for depth in (5000, 50000):  # Python 3.13's json parses 5000 levels, 3.11's and 3.12's do not
        r = predict(server, "--model", "lr", "--json", '{"a": ' + "[" * depth + "]" * depth + "}")
        assert assert_one_error(r, 2) == "--json: JSON nested too deeply"
    r = predict(server, "--model", "lr", "--json", "{}", "--batch-size", "0")
    assert assert_one_error(r, 2) == "--batch-size 0: expected at least 1"
    # 3: nothing answers at the address
    address = f"127.0.0.1:{free_port()}"
    r = run_cli("predict", "--address", address, "--model", "lr", "--json", "{}", "--timeout", "5")
    assert assert_one_error(r, 3).startswith(f"no answer from {address}: UNAVAILABLE")
    # every code is in --help
    text = run_cli("predict", "--help").stdout
    for code in ("0  every record was scored", "1  a record was refused", "2  usage", "3  the server did not answer"):
        assert code in text


def test_a_server_that_answers_unavailable_is_not_unreachable(start_server, tmp_path):
    """A model that is not ready is the server's answer (exit 1, its message), not "no answer" (3)."""
    broken = tmp_path / "bad.zip"
    broken.write_bytes(b"not a zip")
    bad = start_server("--model", f"bad={broken}", "--reload-interval", "0", wait="listening")
    bad.wait_health("NOT_SERVING", "model:bad", timeout=30)  # known to the server, not "no such model"
    r = run_cli("predict", "--address", bad.address, "--model", "bad", "--json", "{}", "--timeout", "10")
    assert assert_one_error(r, 1).startswith("UNAVAILABLE: model 'bad' is not ready"), r.stderr


def test_a_timeout_is_no_answer(server):
    r = predict(server, "--model", "lr", "--json", '{"a": 1, "b": 2}', "--timeout", "0.000001")
    assert assert_one_error(r, 3) == f"no answer from {server.address} within 1e-06 s (--timeout)"


def test_non_finite_numbers_print_as_valid_json(server):
    """1e400 is infinity: the outputs printed NaN and Infinity, which JSON (and jq) refuse."""
    r = predict(server, "--model", "lr", "--json", '{"a": 1e400, "b": 1}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout, parse_constant=lambda name: pytest.fail(f"{name} in {r.stdout}")) == \
        {"features": ["Infinity", 1.0], "prediction": "Infinity"}
    r = predict(server, "--model", "lr", "--file", "-", input='{"a": 1e400, "b": -1e400}\n')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout, parse_constant=lambda name: pytest.fail(f"{name} in {r.stdout}")) == \
        {"features": ["Infinity", "-Infinity"], "prediction": "NaN"}
