"""Sums as Spark adds them: left to right from 0.0, on every Python. Python 3.12's builtin sum()
compensates rounding errors, so these inputs tell the two apart: each 1e-16 is below half a unit
in the last place of 1.0, so a loop adding them one by one keeps 1.0 where a compensated sum gives
1.0000000000000002. And in the four lanes of netlib's ddot where jmath says Spark's sums take them.
Needs numpy only (no Spark), so it runs under every Python the runtime supports."""

import math

import numpy as np

from leapserve.runtime.jvm.jmath import ddot_sum_arrays, seq_dot, seq_sparse_dot, seq_sum, seq_sum_arrays
from leapserve.runtime.model import dot
from leapserve.runtime.ops import classification_ann, classification_linear
from leapserve.runtime.vectors import SparseVector

SMALL = [1.0, 1e-16, 1e-16]


def test_sums_add_left_to_right():
    assert seq_sum(SMALL) == 1.0
    assert seq_sum(iter(SMALL)) == 1.0
    assert seq_sum([1e100, 1.0, -1e100]) == 0.0  # compensated: 1.0
    assert seq_dot([1.0, 1.0, 1.0], SMALL) == 1.0
    assert seq_dot(SMALL, [1.0, 1.0, 1.0]) == 1.0
    assert seq_sparse_dot([0, 2, 5], SMALL, [1.0] * 6) == 1.0
    assert seq_sparse_dot((1, 3, 4), (1e100, 1.0, -1e100), [1.0] * 5) == 0.0


def test_sums_start_from_zero():
    for total in (seq_sum([]), seq_dot([], []), seq_sparse_dot([], [], [1.0])):
        assert type(total) is float and total == 0.0
    assert math.copysign(1.0, seq_sum([-0.0])) == 1.0  # 0.0 + -0.0, as a JVM loop from 0.0
    assert math.copysign(1.0, seq_dot([-1.0], [0.0])) == 1.0
    assert math.isnan(seq_sum([math.inf, -math.inf]))
    assert seq_sum([1e308, 1e308, -1e308]) == math.inf  # overflow stays overflowed


def test_dot_adds_left_to_right():
    """Spark's BLAS.dot as the linear models call it (model.dot), dense and sparse."""
    assert dot([1.0, 1.0, 1.0], SMALL) == 1.0
    assert dot(SparseVector(3, [0, 1, 2], SMALL), [1.0, 1.0, 1.0]) == 1.0
    assert dot([1e100, 1.0, 0.0, 0.0, -1e100, 1.0, 0.0, 0.0], [1.0] * 8) == 1.0


def test_ddot_order():
    """netlib's ddot (without its fma) adds terms 0-7 in four lanes, 1e100 and -1e100 in the same
    one, so both 1.0 survive, then the ninth term: 2.5, where left to right gives 1.5."""
    P = np.array([1e100, 1.0, 0.0, 0.0, -1e100, 1.0, 0.0, 0.0, 0.5]).reshape(-1, 1)
    assert ddot_sum_arrays(P).tolist() == [2.5]
    assert seq_sum_arrays(P).tolist() == [1.5]
    assert ddot_sum_arrays(P[[0, 1, 4]]).tolist() == [0.0]  # fewer than four: one by one
    assert ddot_sum_arrays(np.zeros((0, 2))).tolist() == [0.0, 0.0]


def test_softmax_adds_left_to_right():
    """Spark's Utils.softmax (logistic regression, naive Bayes) and its perceptron's softmax layer
    of [0, ln 1e-16, ln 1e-16]: the exponentials sum to exactly 1.0 left to right, so the first
    probability is 1.0 (0.9999999999999998 after a compensated sum)."""
    raw = [0.0, math.log(1e-16), math.log(1e-16)]
    assert classification_linear.softmax(raw)[0] == 1.0
    assert classification_ann.softmax(raw)[0] == 1.0
