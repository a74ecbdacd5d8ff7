"""Two Python threads generate at once (the GIL is released in C++); both get the right text.
Speed is not asserted (a loaded machine)."""
import threading

import attend


def test_two_threads_generate_at_once(model):
    jobs = [("Once upon a time", 5), ("The little dog", 9)]
    expected = [model.generate(p, max_tokens=100, temperature=0.8, seed=s) for p, s in jobs]
    results = [None, None]
    errors = []
    barrier = threading.Barrier(2)

    def work(i):
        try:
            barrier.wait()
            for _ in range(3):
                text = model.generate(jobs[i][0], max_tokens=100, temperature=0.8, seed=jobs[i][1])
                assert text == expected[i]
            results[i] = text
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert results == expected


def test_threads_with_separate_models_and_streams(stories):
    a, b = attend.load(str(stories)), attend.load(str(stories))
    expected = a.generate("Lily", max_tokens=60, temperature=0)
    out = {}

    def stream(name, m):
        out[name] = "".join(m.stream("Lily", max_tokens=60, temperature=0))

    threads = [threading.Thread(target=stream, args=(n, m)) for n, m in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert out == {"a": expected, "b": expected}
