"""docs/ops.md is generated from the registry and the parity markers, and every op has one."""

from leapserve.runtime import supported_ops
from tools import opsdoc


def test_every_op_has_a_parity_test():
    tests = opsdoc.parity_tests()
    missing = [op for op in supported_ops() if op != "pipeline" and not tests.get(op)]
    assert missing == [], f"ops without a @pytest.mark.parity test: {missing}"
    unknown = sorted(set(tests) - set(supported_ops()))
    assert unknown == [], f"parity markers name ops the registry does not have: {unknown}"


def test_ops_doc_is_up_to_date():
    assert opsdoc.DOC.read_text() == opsdoc.render(), "run `python -m tools.opsdoc`"
