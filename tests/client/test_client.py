"""leapserve.client against real `leapserve serve` processes on loopback and a Unix socket: answers
equal to the runtime's own transform (values, their types and the order of the outputs), per-record
errors in batches and streams, metadata, models, health, TLS, deadlines, errors carrying the gRPC
code and the field; and the example of docs/serving.md's "Python client" section, run as written."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import grpc
import pytest

import leapserve
from leapserve import DenseVector, SparseVector
from leapserve.client import CallError, Client, NestedTooDeeply, Prediction
from tests.support import handmade
from tests.support.bundles import FIXTURES, RF_ZIP, airbnb_record, json_lr_entries, write_zip
from tests.support.certificates import have_openssl, make_certificates
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
ONE_HOT = FIXTURES / "one_hot_encoder_pipeline.zip"  # col_1 (labels A, B, C) -> a sparse one-hot vector
RF_OUTPUTS = ["unscaled_continuous_features", "scaled_continuous_features", "room_type_index",
              "host_is_superhost_index", "cancellation_policy_index", "instant_bookable_index",
              "state_index", "features_rf", "price_prediction"]  # the forest's pipeline order


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """lr: a + 10 b + 0.5 (scalars a, b; outputs features, prediction); vec: the same on a vector
    input; skip: a string indexer that drops unseen colours (handle_invalid "skip")."""
    folder = tmp_path_factory.mktemp("bundles")
    lr = handmade.node("lr", "linear_regression", {"coefficients": handmade.tensor([1.0, 10.0]),
                                                   "intercept": handmade.double(0.5)},
                       inputs=[("features", "features")], outputs=[("prediction", "prediction")])
    return {
        "rf": RF_ZIP, "ohe": ONE_HOT,
        "lr": write_zip(folder / "lr.zip", json_lr_entries([1.0, 10.0], 0.5)),
        "vec": handmade.write_bundle(folder / "vec", "json", [lr], zip_it=True),
        "skip": handmade.write_bundle(folder / "skip", "json",
                                      [handmade.two_column_indexer_node("skip", ["red", "green"])], zip_it=True),
    }


@pytest.fixture(scope="module")
def server(start_module_server, bundles, tmp_path_factory):
    """Every bundle, on a loopback port and a Unix socket."""
    port = free_port()
    uds = tmp_path_factory.mktemp("uds") / "ls.sock"
    models = [a for name, path in bundles.items() for a in ("--model", f"{name}={path}")]
    started = start_module_server(*models, "--reload-interval", "0", "--port", port, "--uds", uds,
                                  address=f"127.0.0.1:{port}")
    started.uds = uds
    return started


@pytest.fixture(scope="module")
def client(server):
    with Client(server.address, timeout=30) as c:
        yield c


def same(answer: dict, expected: dict) -> None:
    """Equal values of the same types, in the same order."""
    assert list(answer) == list(expected)
    assert answer == expected
    assert [type(v) for v in answer.values()] == [type(v) for v in expected.values()]


def test_predict_equals_the_runtimes_transform(client, bundles):
    rf = leapserve.load_bundle(bundles["rf"])
    record = airbnb_record()
    answer = client.predict("rf", record)
    assert isinstance(answer, Prediction) and answer.ok and answer.version == "1" and answer.model == "rf"
    same(answer.outputs, rf.transform(record))
    assert list(answer.outputs) == RF_OUTPUTS and isinstance(answer.outputs["features_rf"], DenseVector)
    # outputs= picks and orders them
    picked = client.predict("rf", record, outputs=["price_prediction", "state_index"])
    assert list(picked.outputs.items()) == [("price_prediction", rf.transform(record)["price_prediction"]),
                                            ("state_index", rf.transform(record)["state_index"])]
    # sparse vectors out
    ohe = leapserve.load_bundle(bundles["ohe"])
    answer = client.predict("ohe", {"col_1": "B"})
    same(answer.outputs, ohe.transform({"col_1": "B"}))
    assert answer.outputs["col_1_label_one_hot_encoded"] == SparseVector(3, [1], [1.0])
    # vectors in: DenseVector, SparseVector, a list of numbers
    vec = leapserve.load_bundle(bundles["vec"])
    for features in (DenseVector([1.0, 2.0]), SparseVector(2, [1], [2.0]), [3, 4], None):
        try:
            expected = vec.transform({"features": features})
        except leapserve.ScoringError:  # null: refused by the runtime, refused by the server
            with pytest.raises(CallError) as e:
                client.predict("vec", {"features": features})
            assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and e.value.field == "features"
            continue
        same(client.predict("vec", {"features": features}).outputs, expected)


# Cases of the golden set (tests/support/golden.py): bundles exported by MLeap with records and the
# answers Spark gave them, with lists, sparse vectors, refused rows and rows Spark drops.
GOLDEN_CASES = ["test_feature_text_vectors--test_tokenizer_count_vectorizer_idf_pipeline--1",
                "test_feature_categorical--test_one_hot_encoder-error-False--1",
                "test_feature_threshold--test_bucketizer-skip--1"]


def test_batches_and_streams_get_sparks_answers(start_server):
    """Spark's recorded answers come back through the client: refused rows refused, dropped rows
    skipped, the others equal (discrete outputs exactly, doubles as the parity tests hold them)."""
    from tests.support.golden import GOLDEN, load_case
    from tests.support.parity import compare

    folders = {f"case{i}": GOLDEN / case for i, case in enumerate(GOLDEN_CASES)}
    loaded = {name: load_case(folder) for name, folder in folders.items()}
    models = [a for name, folder in folders.items() for a in ("--model", f"{name}={folder / 'bundle.zip'}")]
    server = start_server(*models, "--reload-interval", "0")
    with Client(server.address) as c:
        for name, (pipeline, records, expected, outputs, columns) in loaded.items():
            rows = c.predict_batch(name, [record for _, record in records], outputs=outputs)
            streamed = list(c.predict_stream(name, [record for _, record in records], outputs=outputs))
            assert [a.ok for a in streamed] == [r.ok for r in rows], name
            kinds = set()
            for (rid, _), row, answer in zip(records, rows, streamed):
                want = expected[rid]
                kinds.add(want if isinstance(want, str) else "ok")
                if want == "error":
                    assert row.error.code == grpc.StatusCode.INVALID_ARGUMENT and not row.skipped, (name, rid)
                    continue
                if want == "skipped":
                    assert row.skipped and row.error is not None, (name, rid, row)
                    continue
                assert row.ok and list(row.outputs) == outputs, (name, rid, row)
                for out in outputs:
                    for got in (row.outputs[out], answer.outputs[out]):
                        diff = compare(want[columns.get(out, out)], got, exact=out in pipeline.discrete_outputs)
                        assert diff.equal, (name, rid, out, diff.detail)
            assert "ok" in kinds


def test_unix_socket(server, bundles):
    rf = leapserve.load_bundle(bundles["rf"])
    with Client(f"unix:{server.uds}") as c:
        same(c.predict("rf", airbnb_record()).outputs, rf.transform(airbnb_record()))


def test_batch_answers_every_record_in_its_place(client, bundles):
    lr = leapserve.load_bundle(bundles["lr"])
    records = [{"a": 1, "b": 2},
               {"a": 1 << 70, "b": 0},        # 1: no leapserve.v1.Value holds it: refused before sending
               {"a": "x", "b": 1},            # 2: refused by the model
               {"a": 3.5, "b": 1}]
    rows = client.predict_batch("lr", records)
    assert len(rows) == 4
    for i in (0, 3):
        assert rows[i].ok and rows[i].version == "1"
        same(rows[i].outputs, lr.transform({k: float(v) for k, v in records[i].items()}))
    local, refused = rows[1].error, rows[2].error
    assert not rows[1].ok and rows[1].outputs == {} and rows[1].version == ""
    assert (local.code, local.field) == (grpc.StatusCode.INVALID_ARGUMENT, "a")
    assert local.message.startswith("row 1: field 'a': cannot encode") and local.actual == f"integer {1 << 70}"
    assert (refused.code, refused.field, refused.expected) == (grpc.StatusCode.INVALID_ARGUMENT, "a", "double")
    assert refused.message.startswith("row 2, field 'a'"), refused.message  # its index among the records given
    assert "'x'" in refused.actual and not rows[2].skipped and rows[2].version == "1"
    assert str(refused) == f"INVALID_ARGUMENT: {refused.message}"

    skip = leapserve.load_bundle(bundles["skip"])
    rows = client.predict_batch("skip", [{"colour": "red", "shape": "y"}, {"colour": "mauve", "shape": "x"},
                                         {"colour": "green", "shape": "x"}])
    assert [r.ok for r in rows] == [True, False, True] and rows[1].skipped
    assert rows[1].error.message.startswith("row 1 skipped: ") and rows[1].outputs == {}
    same(rows[2].outputs, skip.transform({"colour": "green", "shape": "x"}))

    assert client.predict_batch("lr", []) == []
    with pytest.raises(CallError) as e:  # the call as a whole
        client.predict_batch("nope", records)
    assert e.value.code == grpc.StatusCode.NOT_FOUND and "unknown model 'nope'" in e.value.message


def test_stream_answers_in_order(client, bundles):
    lr = leapserve.load_bundle(bundles["lr"])
    records = [{"a": float(i), "b": float(i % 7)} for i in range(200)]
    records[50] = {"a": "x", "b": 1.0}      # refused by the model: the stream goes on
    records[120] = {"a": object(), "b": 1.0}  # cannot be encoded: answered here, in its place
    answers = list(client.predict_stream("lr", (r for r in records), outputs=["prediction"]))
    assert len(answers) == 200
    for i, (record, answer) in enumerate(zip(records, answers)):
        if i in (50, 120):
            assert not answer.ok and answer.error.field == "a" and answer.error.code == grpc.StatusCode.INVALID_ARGUMENT
            continue
        assert answer.ok and answer.version == "1", (i, answer)
        assert answer.outputs == {"prediction": lr.transform(record)["prediction"]}
    # the forest: the same answers as Predict, for each record
    rf = leapserve.load_bundle(bundles["rf"])
    for answer in client.predict_stream("rf", [airbnb_record()] * 3):
        same(answer.outputs, rf.transform(airbnb_record()))
    # The caller's iterable fails: the records it gave are answered, then its error is raised.
    def failing():
        yield {"a": 1.0, "b": 2.0}
        yield {"a": object(), "b": 2.0}
        raise ZeroDivisionError("the records ran out")

    answers = []
    with pytest.raises(ZeroDivisionError, match="ran out"):
        for answer in client.predict_stream("lr", failing()):
            answers.append(answer)
    assert [a.ok for a in answers] == [True, False] and answers[0].outputs["prediction"] == 21.5


def test_metadata_models_and_health(client, bundles):
    meta = client.metadata("rf")
    assert (meta.model, meta.version, meta.default_version) == ("rf", "1", "1")
    assert [f.name for f in meta.outputs] == RF_OUTPUTS
    assert {f.name for f in meta.inputs} == set(airbnb_record())
    assert [v.state for v in meta.versions] == ["READY"] and meta.versions[0].is_default
    assert meta.bundle.format == "json" and meta.stages
    models = client.models()
    assert sorted(m.name for m in models) == sorted(bundles) and models.notes == []
    assert all(m.default_version == "1" for m in models)
    assert client.health() == "SERVING" and client.health("model:rf") == "SERVING"
    with pytest.raises(CallError) as e:
        client.health("model:nope")
    assert e.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(CallError) as e:
        client.metadata("rf", version="7")
    assert e.value.code == grpc.StatusCode.NOT_FOUND


def test_errors_carry_code_message_and_field(client):
    with pytest.raises(CallError) as e:
        client.predict("lr", {"a": "x", "b": 2})
    err = e.value
    assert (err.code, err.field, err.expected) == (grpc.StatusCode.INVALID_ARGUMENT, "a", "double")
    assert "'x'" in err.actual and err.message.startswith("field 'a': expected double")
    with pytest.raises(CallError) as e:
        client.predict("lr", {"a": 1.0, "b": 2.0}, outputs=["predicton"])
    assert e.value.field == "predicton" and "did you mean 'prediction'" in e.value.message
    with pytest.raises(CallError) as e:
        client.predict("nope", {})
    assert (e.value.code, e.value.field) == (grpc.StatusCode.NOT_FOUND, None)
    with pytest.raises(ValueError, match="field 'b': cannot encode"):  # nothing is sent
        client.predict("lr", {"a": 1, "b": 1 << 70})
    deep = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(NestedTooDeeply, match="field 'a'"):
        client.predict("lr", {"a": deep, "b": 1})
    rows = client.predict_batch("lr", [{"a": deep, "b": 1}, {"a": 1, "b": 1}])
    assert isinstance(rows[0].error.__cause__, NestedTooDeeply) and rows[0].error.field == "a" and rows[1].ok
    with Client(f"127.0.0.1:{free_port()}", timeout=5) as nobody:
        with pytest.raises(CallError) as e:
            nobody.predict("lr", {"a": 1, "b": 2})
        assert e.value.code == grpc.StatusCode.UNAVAILABLE
        assert not nobody.connected(0.2)  # nothing answered: not the server's UNAVAILABLE
    assert client.connected()


def test_deadlines(server):
    records = [airbnb_record()] * 2000
    with Client(server.address, timeout=0.001) as hurried:
        with pytest.raises(CallError) as e:
            hurried.predict_batch("rf", records)
        assert e.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert len(hurried.predict_batch("rf", records, timeout=60)) == 2000  # the call's own wins
        with pytest.raises(CallError) as e:
            list(hurried.predict_stream("rf", records))
        assert e.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    with Client(server.address, timeout=None) as patient:  # no deadline
        assert patient.predict("rf", airbnb_record()).ok
    with pytest.raises(ValueError, match="timeout"):
        Client(server.address, timeout=0)


@pytest.mark.skipif(not have_openssl(), reason="the openssl command line is not installed")
def test_tls_and_mutual_tls(start_server, tmp_path, bundles):
    certs = make_certificates(tmp_path / "certs")
    port = free_port()
    address = f"127.0.0.1:{port}"
    start_server("--model", f"rf={bundles['rf']}", "--reload-interval", "0", "--port", port, "--tls-cert",
                 certs["server"], "--tls-key", certs["server_key"], "--tls-client-ca", certs["ca"],
                 "--health-port", (health_port := free_port()), address=f"127.0.0.1:{health_port}")
    mutual = {"ca": certs["ca"], "cert": certs["client"], "key": certs["client_key"]}
    with Client(address, **mutual) as c:
        assert c.predict("rf", airbnb_record()).ok
    with Client(address, **mutual, server_name="localhost") as c:  # the certificate's other name
        assert c.health() == "SERVING"
    for refused in ({"ca": certs["ca"]},                              # no client certificate
                    {**mutual, "server_name": "elsewhere.example"},   # not the certificate's name
                    {}):                                             # plaintext to a TLS port
        with Client(address, timeout=5, **refused) as c:
            with pytest.raises(CallError) as e:
                c.predict("rf", airbnb_record())
            assert e.value.code == grpc.StatusCode.UNAVAILABLE, refused
    with pytest.raises(ValueError, match="go together"):
        Client(address, ca=certs["ca"], cert=certs["client"])
    with pytest.raises(FileNotFoundError):
        Client(address, ca=tmp_path / "none.pem")


def test_the_docs_example_runs_as_written(start_server):
    """docs/serving.md's "Python client" section: its example, run against a server serving the
    airbnb forest as "airbnb", prints what its comments say."""
    server = start_server("--model", f"airbnb={RF_ZIP}", "--reload-interval", "0")
    text = (REPO / "docs" / "serving.md").read_text()
    section = text[text.index("## Python client"):]
    section = section[:section.index("\n## ", 1)]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert '"127.0.0.1:50051"' in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace('"127.0.0.1:50051"', repr(server.address)), "docs/serving.md", "exec"), {})
    said = [m.group(1) for m in re.finditer(r"# prints: (.*)", code)]
    assert out.getvalue().splitlines() == said
