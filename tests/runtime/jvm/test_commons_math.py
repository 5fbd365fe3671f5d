"""commons-math3's Gamma.digamma as Spark's LDA computes it: the numpy version is the scalar one,
element by element, and both are the JVM's."""

import numpy as np

from leapserve.runtime.jvm.commons_math import digamma, digamma_array


def test_digamma_array_is_the_scalar_digamma(spark):
    java = spark._jvm.org.apache.commons.math3.special.Gamma.digamma
    # shifted up to 49.84..., where numpy's log and the JVM's (and libm's) differ in the last bit
    x = 1.8442520029422247
    assert digamma_array(np.array([x])).tolist() == [digamma(x)] == [java(x)]
    xs = np.random.default_rng(3).uniform(49.0, 1e4, 100_000)  # the asymptotic formula's range
    assert digamma_array(xs).tolist() == [digamma(x) for x in xs.tolist()]
