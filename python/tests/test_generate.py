"""model.generate / model.stream against `attend generate`, byte for byte."""
import pytest

import attend
from conftest import run_cli

PROMPTS = ["Once upon a time", "The little dog", ""]


def cli_generate(cli, stories, prompt, *args):
    r = run_cli(cli, "generate", "--model", str(stories), "--prompt", prompt, *args)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_equals_cli(model, cli, stories, prompt):
    expected = cli_generate(cli, stories, prompt, "-n", "60", "--temperature", "0")
    got = model.generate(prompt, max_tokens=60, temperature=0, echo=True)
    assert (got + "\n").encode() == expected
    # Without echo: the continuation alone, the same bytes after the prompt's text.
    continuation = model.generate(prompt, max_tokens=60, temperature=0)
    assert got.endswith(continuation) and len(continuation) > 0


@pytest.mark.parametrize("seed", [0, 7, 123456789])
def test_seeded_sampling_equals_cli(model, cli, stories, seed):
    args = ["-n", "80", "--temperature", "0.9", "--top-k", "40", "--top-p", "0.95", "--seed", str(seed)]
    expected = cli_generate(cli, stories, "Once upon a time", *args)
    got = model.generate("Once upon a time", max_tokens=80, temperature=0.9, top_k=40, top_p=0.95, seed=seed,
                         echo=True)
    assert (got + "\n").encode() == expected


def test_bf16_kv_cache_equals_cli(model, cli, stories):
    expected = cli_generate(cli, stories, "Once upon a time", "-n", "60", "--temperature", "0", "--kv-cache", "bf16")
    got = model.generate("Once upon a time", max_tokens=60, temperature=0, echo=True, kv_cache="bf16")
    assert (got + "\n").encode() == expected
    assert "".join(model.stream("Once upon a time", max_tokens=60, temperature=0, echo=True, kv_cache="bf16")) == got
    with pytest.raises(ValueError, match='kv_cache must be "f32" or "bf16", got "int8"'):
        model.generate("Once", max_tokens=2, kv_cache="int8")


def test_a_mapped_model_equals_a_read_one_and_the_cli(model, cli, stories):
    expected = cli_generate(cli, stories, "Once upon a time", "-n", "60", "--temperature", "0", "--mmap")
    mapped = attend.load(str(stories), mmap=True)
    got = mapped.generate("Once upon a time", max_tokens=60, temperature=0, echo=True)
    assert (got + "\n").encode() == expected
    assert got == model.generate("Once upon a time", max_tokens=60, temperature=0, echo=True)


def test_defaults_are_the_clis(model, cli, stories):
    # --seed given, everything else default on both sides (temperature 1, top-p 0.9, 128 tokens).
    expected = cli_generate(cli, stories, "Lily", "--seed", "5")
    assert (model.generate("Lily", seed=5, echo=True) + "\n").encode() == expected


def test_stop_strings_equal_cli(model, cli, stories):
    expected = cli_generate(cli, stories, "Once upon a time", "-n", "100", "--temperature", "0", "--stop", "park",
                            "--stop", "Lily")
    got = model.generate("Once upon a time", max_tokens=100, temperature=0, stop=["park", "Lily"], echo=True)
    assert (got + "\n").encode() == expected
    assert "Lily" not in got and "park" not in got


def test_batch_of_prompts_equals_one_by_one(model):
    # Sequence b samples with seed + b, whatever else is in the batch (generate/generate.hpp).
    texts = model.generate(PROMPTS, max_tokens=30, temperature=0.8, seed=11)
    assert isinstance(texts, list) and len(texts) == len(PROMPTS)
    for b, prompt in enumerate(PROMPTS):
        assert texts[b] == model.generate(prompt, max_tokens=30, temperature=0.8, seed=11 + b)


def test_stream_pieces_join_to_generate(model):
    pieces = list(model.stream("Once upon a time", max_tokens=50, temperature=0.7, seed=3))
    assert len(pieces) > 5 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == model.generate("Once upon a time", max_tokens=50, temperature=0.7, seed=3)


def test_stream_dropped_early_stops(model):
    it = model.stream("Once upon a time", max_tokens=100000, temperature=1.0, seed=1)
    first = [next(it) for _ in range(3)]
    assert all(first)
    it.close()
    rest = list(it)  # ends soon after close: at most the pieces already made
    assert len(rest) < 100000
    del it  # the destructor joins the worker


def test_seed_none_draws_from_the_clock(model):
    texts = {model.generate("Once", max_tokens=30) for _ in range(4)}
    assert len(texts) > 1


def test_logits_shape_and_greedy_agree(model):
    tok = model.tokenizer
    ids = tok.encode("Once upon a time", add_special_tokens=True)  # BOS first, as generate's prompt
    assert ids[0] == tok.bos_id
    logits = model.logits(ids)
    assert logits.shape == (1, len(ids), model.config["vocab_size"]) and logits.dtype.name == "float32"
    # The greedy next token is the argmax at the last position.
    first = model.generate("Once upon a time", max_tokens=1, temperature=0)
    assert tok.decode([int(logits[0, -1].argmax())]).strip() == first.strip()
    batch = model.logits([ids, ids[:3]])
    assert batch.shape == (2, len(ids), model.config["vocab_size"])
    assert abs(batch[1, :3] - logits[0, :3]).max() < 1e-4


def test_perplexity_equals_cli(model, cli, stories, tmp_path):
    text = "Once upon a time, there was a little girl named Lily."
    (tmp_path / "text.txt").write_text(text)
    r = run_cli(cli, "perplexity", "--model", str(stories), "--file", str(tmp_path / "text.txt"))
    assert r.returncode == 0, r.stderr.decode()
    ppl = model.perplexity(text)
    assert 1.0 < ppl < 512
    assert f"perplexity {ppl:.4f} over".encode() in r.stdout, r.stdout


def test_config_and_repr(model):
    c = model.config
    assert isinstance(c, dict) and c["vocab_size"] == 512 and c["d_model"] == 64
    assert model.format == "llama2c" and model.parameters > 200000
    assert "stories260K" in repr(model)
    assert model.tokenizer.vocab_size == 512 and model.tokenizer.kind == "llama2c-bpe"


def test_interrupt_stops_a_long_generation(model):
    # Ctrl-C (interrupt_main raises SIGINT's flag) lands while C++ generates: the token loop
    # sees it and generate raises KeyboardInterrupt. Stories end at EOS, so generate again
    # until the interrupt arrives; it must come out of the generate call itself.
    import _thread
    import threading
    import time

    timer = threading.Timer(0.5, _thread.interrupt_main)
    deadline = time.monotonic() + 60
    timer.start()
    with pytest.raises(KeyboardInterrupt) as e:
        while time.monotonic() < deadline:
            model.generate("Once upon a time", max_tokens=10_000_000, temperature=1.0, top_p=1.0)  # C++ call
    timer.cancel()
    assert "# C++ call" in str(e.traceback[-1].statement)
