"""The generated protobuf code in leapserve/ is exactly what `make proto` makes from protos/."""

from __future__ import annotations

from pathlib import Path

from tools import protogen

REPO = Path(__file__).resolve().parents[2]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for package in protogen.generated_packages(root)
            for p in package.iterdir() if p.is_file() and p.suffix in (".py", ".pyi")}


def test_generated_code_is_up_to_date(tmp_path):
    protogen.generate(tmp_path)
    fresh = _files(tmp_path)
    committed = _files(REPO)
    assert fresh, "protoc generated nothing"
    stale = sorted(name for name in fresh if committed.get(name) != fresh[name])
    assert not stale, f"generated code differs from protos/ (run `make proto`): {stale}"
    extra = sorted(set(committed) - set(fresh))
    assert not extra, f"generated files without a .proto (delete them or restore the .proto): {extra}"


def test_service_names():
    from leapserve.v1 import model_service_pb2, prediction_pb2

    assert prediction_pb2.DESCRIPTOR.package == "leapserve.v1"
    assert "PredictionService" in prediction_pb2.DESCRIPTOR.services_by_name
    assert "ModelService" in model_service_pb2.DESCRIPTOR.services_by_name
    # leapserve.oip is not imported here: its `inference` package clashes with tritonclient's copy.
    text = (REPO / "protos" / "leapserve" / "oip" / "inference.proto").read_text()
    assert "package inference;" in text and "service GRPCInferenceService" in text
