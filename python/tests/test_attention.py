"""attend.attention against PyTorch: softmax(Q Kᵀ / √d + mask) V, within 1e-5."""
import math

import numpy as np
import pytest
import torch

import attend

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def reference(q, k, v, causal=False, key_lengths=None, window=None, scale=None):
    """softmax(QKᵀ·scale + mask)V in float64 torch; fully masked rows give zeros (attend's rule)."""
    q, k, v = (torch.from_numpy(x).double() for x in (q, k, v))
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    k = k.repeat_interleave(H // Hkv, dim=1)  # GQA: head h reads kv head h // (H // Hkv)
    v = v.repeat_interleave(H // Hkv, dim=1)
    scores = q @ k.transpose(-1, -2) * (scale if scale is not None else 1 / math.sqrt(D))
    allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
    pos = torch.arange(Tq)[:, None] + (Tk - Tq)
    j = torch.arange(Tk)[None, :]
    if causal:
        allowed &= (j <= pos)
    if window is not None:
        allowed &= (pos - j).abs() <= window
    if key_lengths is not None:
        allowed &= (j[None, None] < torch.tensor(key_lengths)[:, None, None, None])
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.nn.functional.softmax(scores, dim=-1).nan_to_num(0.0)
    return (weights @ v).numpy(), weights.numpy()


CASES = [
    dict(),
    dict(causal=True),
    dict(key_lengths=[5, 9]),
    dict(causal=True, key_lengths=[3, 9]),
    dict(window=2),
    dict(causal=True, window=3),
    dict(scale=0.3),
]


@pytest.mark.parametrize("mask", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("heads,kv_heads,tq,tk", [(4, 4, 9, 9), (4, 2, 9, 9), (4, 1, 9, 9), (2, 2, 4, 9)])
def test_matches_torch(mask, heads, kv_heads, tq, tk):
    B, D = 2, 16
    q, k, v = randn(B, heads, tq, D), randn(B, kv_heads, tk, D), randn(B, kv_heads, tk, D)
    expected, expected_w = reference(q, k, v, **mask)
    out = attend.attention(q, k, v, **mask)
    assert out.shape == (B, heads, tq, D) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=0)
    out2, weights = attend.attention(q, k, v, return_weights=True, **mask)
    np.testing.assert_allclose(out2, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(weights, expected_w, atol=1e-5, rtol=0)


def test_matches_torch_on_larger_shapes():
    # A size where the fused kernel tiles: 2 x 3 heads x 100 queries (or 37 after 100 keys) x 64,
    # against torch.nn.functional.softmax in float64 (torch 1.13 has no scaled_dot_product_attention).
    for tq in (100, 37):
        q, k, v = randn(2, 3, tq, 64), randn(2, 3, 100, 64), randn(2, 3, 100, 64)
        for causal in (False, True):
            expected, _ = reference(q, k, v, causal=causal)
            np.testing.assert_allclose(attend.attention(q, k, v, causal=causal), expected, atol=1e-5, rtol=0)


def test_zero_copy_in_and_out():
    q, k, v = randn(1, 2, 5, 8), randn(1, 2, 5, 8), randn(1, 2, 5, 8)
    out = attend.attention(q, k, v)
    # Out: an array over attend's memory, kept alive by a capsule (no NumPy-owned buffer).
    assert not out.flags.owndata and out.base is not None
    assert out.flags.c_contiguous and out.flags.writeable
    # In: read in place. A read-only view of the same memory works (no copy needed or made).
    q_ro = q.view()
    q_ro.flags.writeable = False
    np.testing.assert_array_equal(attend.attention(q_ro, k, v), out)


@pytest.mark.parametrize("bad,message", [
    (lambda q: q.astype(np.float64), "q must be float32"),
    (lambda q: q.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2), "q must be C-contiguous"),
    (lambda q: q[0], "q must be 4-D"),
])
def test_bad_inputs_raise_clear_errors(bad, message):
    q, k, v = randn(1, 2, 5, 8), randn(1, 2, 5, 8), randn(1, 2, 5, 8)
    with pytest.raises(attend.Error, match=message):
        attend.attention(bad(q), k, v)
    with pytest.raises(attend.Error, match="must be a float32 NumPy array"):
        attend.attention([[1.0]], k, v)


def test_shape_mismatches_are_attend_errors():
    q = randn(1, 3, 5, 8)
    with pytest.raises(ValueError):  # 3 heads cannot share 2 kv heads
        attend.attention(q, randn(1, 2, 5, 8), randn(1, 2, 5, 8))
    with pytest.raises(attend.Error):
        attend.attention(randn(1, 2, 5, 8), randn(1, 2, 5, 4), randn(1, 2, 5, 8))
    with pytest.raises(attend.Error):
        attend.attention(randn(2, 2, 5, 8), randn(2, 2, 5, 8), randn(2, 2, 5, 8), key_lengths=[1])
