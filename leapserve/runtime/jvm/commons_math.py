"""The commons-math3 (and breeze) functions Spark's LDA draws on: Gamma.digamma, the
MersenneTwister random generator and breeze's Gamma sampler over it.
"""

from __future__ import annotations

import math

import numpy as np

from .jmath import java_log


def digamma(x: float) -> float:
    """commons-math3 Gamma.digamma (breeze's digamma), operation for operation: shift up to 49 by
    the recurrence, then commons-math's asymptotic formula; the recurrence's subtractions are
    applied innermost first."""
    if x != x or x in (math.inf, -math.inf):
        return x
    steps = []
    while True:
        if 0.0 < x <= 1e-5:
            r = -0.5772156649015329 - 1.0 / x
            break
        if x >= 49.0:
            inv = 1.0 / (x * x)
            # commons-math adds the x^-4 term where the series subtracts it; Spark inherits that
            r = math.log(x) - 0.5 / x - inv * (0.08333333333333333 + inv * (0.008333333333333333 - inv / 252.0))
            break
        steps.append(x)
        if len(steps) > 100_000:  # large negative arguments: the JVM would overflow its stack
            return math.nan
        x = x + 1.0
    for s in reversed(steps):
        r = r - (1.0 / s if s != 0.0 else math.copysign(math.inf, s))
    return r


def digamma_array(x: np.ndarray) -> np.ndarray:
    """digamma elementwise, with the same operation order as the scalar version."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    cur = x.copy()
    pending = np.isfinite(cur)
    out[~pending] = cur[~pending]
    steps = []
    with np.errstate(all="ignore"):
        for _ in range(100_000):
            small = pending & (cur > 0.0) & (cur <= 1e-5)
            out[small] = -0.5772156649015329 - 1.0 / cur[small]
            big = pending & (cur >= 49.0)
            xb = cur[big]
            inv = 1.0 / (xb * xb)
            # math.log as the scalar version: numpy's log may differ from it in the last bit
            log = np.fromiter(map(math.log, xb.tolist()), np.float64, len(xb))
            out[big] = log - 0.5 / xb - inv * (0.08333333333333333 + inv * (0.008333333333333333 - inv / 252.0))
            pending &= ~(small | big)
            if not pending.any():
                break
            steps.append((pending.copy(), 1.0 / cur))
            cur = np.where(pending, cur + 1.0, cur)
        else:
            out[pending] = np.nan
        for mask, inv in reversed(steps):
            out[mask] = out[mask] - inv[mask]
    return out


class MersenneTwister:
    """commons-math3's MersenneTwister (MT19937 seeded by init_by_array with the long split into
    its high and low ints) and the BitsStreamGenerator methods breeze's Gamma draws from."""

    N, M = 624, 397

    def __init__(self, seed: int):
        seed &= 0xFFFFFFFFFFFFFFFF
        key = [(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF]
        mt = [0] * self.N
        mt[0] = 19650218
        for i in range(1, self.N):
            mt[i] = (1812433253 * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i) & 0xFFFFFFFF
        i, j = 1, 0
        for _ in range(max(self.N, len(key))):
            mt[i] = ((mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525)) + key[j] + j) & 0xFFFFFFFF
            i += 1
            j += 1
            if i >= self.N:
                mt[0] = mt[self.N - 1]
                i = 1
            if j >= len(key):
                j = 0
        for _ in range(self.N - 1):
            mt[i] = ((mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941)) - i) & 0xFFFFFFFF
            i += 1
            if i >= self.N:
                mt[0] = mt[self.N - 1]
                i = 1
        mt[0] = 0x80000000
        self.mt = mt
        self.mti = self.N
        self.cached_gaussian = math.nan

    def next_int32(self) -> int:
        mt, n, m = self.mt, self.N, self.M
        if self.mti >= n:
            for k in range(n):
                y = (mt[k] & 0x80000000) | (mt[(k + 1) % n] & 0x7FFFFFFF)
                mt[k] = mt[(k + m) % n] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            self.mti = 0
        y = mt[self.mti]
        self.mti += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y

    def next_bits(self, bits: int) -> int:
        return self.next_int32() >> (32 - bits)

    def next_double(self) -> float:
        high = self.next_bits(26) << 26
        return float(high | self.next_bits(26)) * 2.220446049250313e-16

    def next_gaussian(self) -> float:
        if self.cached_gaussian == self.cached_gaussian:
            out, self.cached_gaussian = self.cached_gaussian, math.nan
            return out
        x = self.next_double()
        y = self.next_double()
        alpha = 6.283185307179586 * x
        r = math.sqrt(-2.0 * java_log(y))
        self.cached_gaussian = r * math.sin(alpha)
        return r * math.cos(alpha)


def gamma_samples(shape: float, scale: float, count: int, rng: MersenneTwister) -> list[float]:
    """breeze's Gamma(shape, scale).samplesVector(count): Marsaglia-Tsang for shape > 1, the
    exponential for shape 1, Ahrens-Dieter style rejection below 1."""
    out = []
    for _ in range(count):
        if shape == 1.0:
            out.append(scale * -java_log(rng.next_double()))
        elif shape < 1.0:
            while True:
                u = rng.next_double()
                v = -java_log(rng.next_double())
                if u <= 1.0 - shape:
                    x = u ** (1.0 / shape)
                    if x <= v:
                        break
                else:
                    y = -java_log((1 - u) / shape)
                    x = ((1.0 - shape) + shape * y) ** (1.0 / shape)
                    if x <= v + y:
                        break
            out.append(scale * x)
        else:
            d = shape - 0.3333333333333333
            c = 1.0 / math.sqrt(9.0 * d)
            while True:
                while True:
                    x = rng.next_gaussian()
                    v = 1.0 + c * x
                    if v > 0:
                        break
                v = v * v * v
                x2 = x * x
                u = rng.next_double()
                if u < 1.0 - 0.0331 * (x2 * x2) or java_log(u) < 0.5 * x2 + d * (1.0 - v + java_log(v)):
                    out.append(scale * d * v)
                    break
    return out
