#!/usr/bin/python3
"""Generates per-op int8 test cases for tests/test_kernels.c from a numpy reference of TFLite's
integer kernels.

usage: gen_kernel_cases.py OUT_FILE [SEED]

The reference is written from the published definitions of TensorFlow Lite (Micro)'s reference
integer kernels: QuantizeMultiplier (frexp, round half away from zero), the gemmlowp
SaturatingRoundingDoublingHighMul / RoundingDivideByPOT pair behind MultiplyByQuantizedMultiplier,
ConvPerChannel, DepthwiseConvPerChannel, FullyConnected, the int8 Add with 20-bit headroom,
AveragePool with rounded division, QuantizedMeanOrSum (1/count folded into the multiplier by an
integer division), Pad and Transpose. Random shapes cover kernel sizes 1/3/4/5/7 (and pointwise convs that expand or reduce the
channels), strides 1 and 2,
SAME and VALID padding, per-channel and per-tensor scales, and the fused activations.

Output (little-endian): b"KCAS", u32 version 2, u32 case count, u32 note length, the note (UTF-8:
how the file was made, generator and seed), then per case:
  u32 kind (model_format.h mt_op_kind_t), u32 n_params, i32 params[n], u32 n_reals,
  f64 reals[n], u32 n_arrays, then per array u32 bytes + data.
"""
import struct
import sys

import numpy as np

CONV, DWCONV, FC, ADD, AVGPOOL, MEAN, PAD, TRANSPOSE = 1, 2, 3, 4, 5, 6, 7, 8
I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(x):
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def round_away(x):
    """std::round: half away from zero (Python's round() rounds half to even)."""
    import math
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)


def quantize_multiplier(real):
    import math
    if real == 0.0:
        return 0, 0
    frac, exp = math.frexp(real)
    q = int(round_away(frac * float(1 << 31)))
    if q == (1 << 31):
        q //= 2
        exp += 1
    if exp < -31:
        return 0, 0
    return q, exp


def srdhm(a, b):
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    t = ab + nudge
    res = np.where(t >= 0, t >> 31, -((-t) >> 31))
    return np.where((a == I32_MIN) & (b == I32_MIN), I32_MAX, res)


def rdbpot(x, e):
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(e, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (x < 0)
    return (x >> e) + (rem > thr)


def mbqm(x, m, s):
    s = np.asarray(s, dtype=np.int64)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    return rdbpot(srdhm(wrap32(np.asarray(x, dtype=np.int64) << left), m), right)


def act_range(act, scale, zp):
    f32 = np.float32
    q = lambda f: zp + int(round_away(float(f32(f) / f32(scale))))
    lo, hi = -128, 127
    if act == 1:
        lo = max(lo, q(0.0))
    elif act == 3:
        lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
    elif act == 2:
        lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
    return lo, hi


def pad_dim(padding, n, k, s):
    if padding == 'SAME':
        out = (n + s - 1) // s
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2
    out = (n - k + s) // s
    return out, 0


class Writer:
    def __init__(self):
        self.cases = []

    def add(self, kind, params, reals, arrays):
        blob = struct.pack('<II', kind, len(params)) + struct.pack('<%di' % len(params), *params)
        blob += struct.pack('<I', len(reals)) + struct.pack('<%dd' % len(reals), *reals)
        blob += struct.pack('<I', len(arrays))
        for a in arrays:
            b = np.ascontiguousarray(a).tobytes()
            blob += struct.pack('<I', len(b)) + b
        self.cases.append(blob)

    def save(self, path, note):
        with open(path, 'wb') as f:
            n = note.encode()
            f.write(b'KCAS' + struct.pack('<III', 2, len(self.cases), len(n)) + n)
            for c in self.cases:
                f.write(c)


def rand_scale(rng, lo=0.005, hi=0.1):
    return np.float32(rng.uniform(lo, hi))


def conv_case(w, rng, depthwise, pointwise=False):
    k = int(rng.choice([1, 3, 4, 5, 7])) if not depthwise else int(rng.choice([3, 4, 5, 7]))
    s = int(rng.choice([1, 2]))
    if pointwise:
        k, s = 1, 1
    padding = str(rng.choice(['SAME', 'VALID']))
    h, wd = int(rng.integers(k, k + 8)), int(rng.integers(k, k + 8))
    cin = int(rng.integers(1, 9))
    cout = cin if depthwise else int(rng.integers(1, 9))
    if pointwise:
        cin, cout = int(rng.integers(1, 25)), int(rng.integers(1, 25))
    oh, pt = pad_dim(padding, h, k, s)
    ow, pl = pad_dim(padding, wd, k, s)
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-20, 21))
    s_in, s_out = rand_scale(rng), rand_scale(rng, 0.02, 0.2)
    per_channel = bool(rng.integers(0, 2))
    s_w = np.array([rand_scale(rng, 0.001, 0.02) for _ in range(cout if per_channel else 1)], np.float32)
    act = int(rng.choice([0, 1, 3]))
    lo, hi = act_range(act, s_out, out_zp)
    x = rng.integers(-128, 128, size=(h, wd, cin), dtype=np.int8)
    if depthwise:
        wt = rng.integers(-127, 128, size=(k, k, cout), dtype=np.int8)
    else:
        wt = rng.integers(-127, 128, size=(cout, k, k, cin), dtype=np.int8)
    bias = rng.integers(-5000, 5000, size=cout, dtype=np.int32)
    reals, mult, shift = [], [], []
    for c in range(cout):
        sw = s_w[c if per_channel else 0]
        r = float(s_in) * float(sw) / float(s_out)
        q, e = quantize_multiplier(r)
        reals.append(r)
        mult.append(q)
        shift.append(e)
    mult = np.array(mult, np.int32)
    shift = np.array(shift, np.int32)
    xi = x.astype(np.int64) - in_zp
    out = np.zeros((oh, ow, cout), np.int8)
    for oy in range(oh):
        for ox in range(ow):
            acc = bias.astype(np.int64).copy()
            for ky in range(k):
                iy = oy * s - pt + ky
                if iy < 0 or iy >= h:
                    continue
                for kx in range(k):
                    ix = ox * s - pl + kx
                    if ix < 0 or ix >= wd:
                        continue
                    if depthwise:
                        acc += xi[iy, ix, :] * wt[ky, kx, :].astype(np.int64)
                    else:
                        acc += wt[:, ky, kx, :].astype(np.int64) @ xi[iy, ix, :]
            v = mbqm(wrap32(acc), mult, shift) + out_zp
            out[oy, ox, :] = np.clip(v, lo, hi).astype(np.int8)
    params = [h, wd, cin, oh, ow, cout, k, k, s, s, pt, pl, in_zp, out_zp, lo, hi]
    w.add(DWCONV if depthwise else CONV, params, reals, [x, wt, bias, mult, shift, out])


def fc_case(w, rng):
    rows, n_in, n_out = int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 20))
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-20, 21))
    s_in, s_out = rand_scale(rng), rand_scale(rng, 0.02, 0.2)
    per_channel = bool(rng.integers(0, 2))
    s_w = np.array([rand_scale(rng, 0.001, 0.02) for _ in range(n_out if per_channel else 1)], np.float32)
    act = int(rng.choice([0, 1, 3]))
    lo, hi = act_range(act, s_out, out_zp)
    x = rng.integers(-128, 128, size=(rows, n_in), dtype=np.int8)
    wt = rng.integers(-127, 128, size=(n_out, n_in), dtype=np.int8)
    bias = rng.integers(-5000, 5000, size=n_out, dtype=np.int32)
    reals = [float(s_in) * float(s_w[c if per_channel else 0]) / float(s_out) for c in range(n_out)]
    qm = [quantize_multiplier(r) for r in reals]
    mult = np.array([q for q, _ in qm], np.int32)
    shift = np.array([e for _, e in qm], np.int32)
    acc = (x.astype(np.int64) - in_zp) @ wt.astype(np.int64).T + bias
    out = np.clip(mbqm(wrap32(acc), mult, shift) + out_zp, lo, hi).astype(np.int8)
    w.add(FC, [rows, n_in, n_out, in_zp, out_zp, lo, hi], reals, [x, wt, bias, mult, shift, out])


def add_case(w, rng):
    n = int(rng.integers(1, 300))
    s1, s2, so = rand_scale(rng, 0.01, 0.2), rand_scale(rng, 0.01, 0.2), rand_scale(rng, 0.01, 0.3)
    z1, z2, zo = (int(rng.integers(-128, 128)) for _ in range(3))
    act = int(rng.choice([0, 1, 3]))
    lo, hi = act_range(act, so, zo)
    left = 20
    twice_max = 2.0 * float(max(s1, s2))
    r1, r2 = float(s1) / twice_max, float(s2) / twice_max
    ro = twice_max / (float(1 << left) * float(so))
    (m1, e1), (m2, e2), (mo, eo) = quantize_multiplier(r1), quantize_multiplier(r2), quantize_multiplier(ro)
    a = rng.integers(-128, 128, size=n, dtype=np.int8)
    b = rng.integers(-128, 128, size=n, dtype=np.int8)
    sa = mbqm(wrap32((a.astype(np.int64) - z1) << left), m1, e1)
    sb = mbqm(wrap32((b.astype(np.int64) - z2) << left), m2, e2)
    out = np.clip(mbqm(wrap32(sa + sb), mo, eo) + zo, lo, hi).astype(np.int8)
    w.add(ADD, [n, z1, z2, zo, left, m1, e1, m2, e2, mo, eo, lo, hi], [r1, r2, ro], [a, b, out])


def avgpool_case(w, rng):
    k = int(rng.choice([2, 3, 5]))
    s = int(rng.choice([1, 2]))
    padding = str(rng.choice(['SAME', 'VALID']))
    h, wd, c = int(rng.integers(k, k + 6)), int(rng.integers(k, k + 6)), int(rng.integers(1, 6))
    oh, pt = pad_dim(padding, h, k, s)
    ow, pl = pad_dim(padding, wd, k, s)
    act = int(rng.choice([0, 1]))
    lo, hi = act_range(act, np.float32(0.05), int(rng.integers(-20, 20)))
    x = rng.integers(-128, 128, size=(h, wd, c), dtype=np.int8)
    out = np.zeros((oh, ow, c), np.int8)
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * s - pt, ox * s - pl
            ys = [y for y in range(y0, y0 + k) if 0 <= y < h]
            xs = [xx for xx in range(x0, x0 + k) if 0 <= xx < wd]
            cnt = len(ys) * len(xs)
            acc = x[np.ix_(ys, xs)].astype(np.int64).sum(axis=(0, 1))
            # rounded division, C truncation of (acc +/- cnt/2) / cnt
            num = np.where(acc > 0, acc + cnt // 2, acc - cnt // 2)
            q = np.trunc(num / cnt).astype(np.int64)
            out[oy, ox, :] = np.clip(q, lo, hi).astype(np.int8)
    w.add(AVGPOOL, [h, wd, c, oh, ow, c, k, k, s, s, pt, pl, 0, 0, lo, hi], [], [x, out])


def mean_case(w, rng):
    d = [int(v) for v in rng.integers(1, 7, size=4)]
    d[0] = 1
    mask = int(rng.integers(1, 16))
    s_in, s_out = rand_scale(rng, 0.01, 0.2), rand_scale(rng, 0.01, 0.2)
    if rng.integers(0, 3) == 0:
        s_out = s_in  # same quantization: TFLM still requantizes
    z_in, z_out = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    x = rng.integers(-128, 128, size=d, dtype=np.int8)
    axes = tuple(i for i in range(4) if mask >> i & 1)
    count = int(np.prod([d[i] for i in axes]))
    real = float(s_in) / float(s_out)
    m, e = quantize_multiplier(real)
    sh = min(count.bit_length() - 1, 32, 31 + e)
    m = int((m << sh) // count)
    e -= sh
    sums = x.astype(np.int64).sum(axis=axes)
    shifted = wrap32(sums - z_in * count)
    out = np.clip(mbqm(shifted, m, e) + z_out, -128, 127).astype(np.int8).reshape(-1)
    w.add(MEAN, d + [mask, z_in, z_out, m, e, count], [real], [x, out])


def pad_case(w, rng):
    d = [1] + [int(v) for v in rng.integers(1, 6, size=3)]
    before = [0] + [int(v) for v in rng.integers(0, 3, size=3)]
    after = [0] + [int(v) for v in rng.integers(0, 3, size=3)]
    val = int(rng.integers(-128, 128))
    x = rng.integers(-128, 128, size=d, dtype=np.int8)
    out = np.pad(x, list(zip(before, after)), constant_values=val).astype(np.int8)
    w.add(PAD, d + before + after + [val], [], [x, out])


def transpose_case(w, rng):
    d = [int(v) for v in rng.integers(1, 6, size=4)]
    perm = [int(v) for v in rng.permutation(4)]
    x = rng.integers(-128, 128, size=d, dtype=np.int8)
    w.add(TRANSPOSE, d + perm, [], [x, np.transpose(x, perm).copy()])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261126
    rng = np.random.default_rng(seed)
    w = Writer()
    for _ in range(40):
        conv_case(w, rng, False)
    for _ in range(40):
        conv_case(w, rng, True)
    for _ in range(20):
        conv_case(w, rng, False, pointwise=True)
    for _ in range(20):
        fc_case(w, rng)
    for _ in range(20):
        add_case(w, rng)
    for _ in range(15):
        avgpool_case(w, rng)
    for _ in range(20):
        mean_case(w, rng)
    for _ in range(8):
        pad_case(w, rng)
    for _ in range(8):
        transpose_case(w, rng)
    w.save(sys.argv[1], 'made by tests/data/gen_kernel_cases.py (seed %d, numpy %s): numpy '
           'reference of TFLite integer kernels; see the script docstring' % (seed, np.__version__))


if __name__ == '__main__':
    main()
