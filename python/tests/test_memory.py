"""Reference counts and memory stay flat over 10,000 calls."""
import gc
import sys
import tracemalloc

import numpy as np

import attend

CALLS = 10_000


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def run_flat(fn, rss_bound_kb=8192, traced_bound=256 * 1024):
    for _ in range(200):  # warm-up: caches, the allocator's pools
        fn()
    gc.collect()
    tracemalloc.start()
    before_traced = tracemalloc.get_traced_memory()[0]
    before_rss = rss_kb()
    for _ in range(CALLS):
        fn()
    gc.collect()
    grown_traced = tracemalloc.get_traced_memory()[0] - before_traced
    tracemalloc.stop()
    grown_rss = rss_kb() - before_rss
    assert grown_traced < traced_bound, f"Python heap grew {grown_traced} bytes over {CALLS} calls"
    assert grown_rss < rss_bound_kb, f"RSS grew {grown_rss} kB over {CALLS} calls"


def test_attention_refcounts_and_memory():
    q = np.random.default_rng(1).standard_normal((2, 2, 16, 8)).astype(np.float32)
    k, v = q.copy(), q.copy()
    refs = [sys.getrefcount(x) for x in (q, k, v)]

    def call():
        out, w = attend.attention(q, k, v, causal=True, return_weights=True)
        assert out.shape == (2, 2, 16, 8) and w.shape == (2, 2, 16, 16)

    run_flat(call)
    assert [sys.getrefcount(x) for x in (q, k, v)] == refs  # every borrowed buffer released


def test_attention_outputs_free_their_memory():
    q = np.ones((1, 4, 64, 32), np.float32)

    def call():
        out = attend.attention(q, q, q)
        view = out[:, 1:]  # a view keeps the capsule alive; dropping both frees it
        assert view.shape == (1, 3, 64, 32)

    run_flat(call)  # 32 kB a call: 320 MB over the loop if it leaked


def test_errors_do_not_leak():
    q = np.ones((1, 1, 4, 4), np.float32)
    d = np.ones((1, 1, 4, 4), np.float64)

    def call():
        try:
            attend.attention(q, d, q)
        except attend.Error:
            pass
        else:
            raise AssertionError("no error")

    refs = sys.getrefcount(q), sys.getrefcount(d)
    run_flat(call)
    assert (sys.getrefcount(q), sys.getrefcount(d)) == refs


def test_tokenizer_and_model_calls(model):
    tok = model.tokenizer
    ids = tok.encode("Once upon a time there was a cat")

    def call():
        assert tok.decode(tok.encode("Once upon a time there was a cat")) == "Once upon a time there was a cat"
        assert model.logits(ids).shape[1] == len(ids)

    run_flat(call)
