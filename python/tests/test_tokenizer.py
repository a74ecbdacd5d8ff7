"""attend.Tokenizer against `attend tokenize` and Hugging Face's ids (llama.cpp's vectors)."""
from pathlib import Path

import numpy as np
import pytest

import attend
from conftest import run_cli

SEPARATOR = "\n__ggml_vocab_test__\n"

# (tokenizer path under shared data, llama.cpp vector set)
TOKENIZERS = [
    ("gpt2_bpe_openai", "gpt-2"),
    ("gpt2_fake_hf/tokenizer.json", "gpt-2"),
    ("bert_vocab/vocab.txt", "bert-bge"),
    ("llama2c_tokenizer_32k/tokenizer.bin", "llama-spm"),
]


def vectors(shared: Path, vocab: str):
    base = shared / "llamacpp_vocab_tests" / f"ggml-vocab-{vocab}.gguf"
    texts = base.with_suffix(".gguf.inp").read_bytes().decode("utf-8").split(SEPARATOR)[:-1]
    lines = base.with_suffix(".gguf.out").read_bytes().decode("utf-8").split("\n")
    assert len(texts) == 46
    return [(text, [int(x) for x in lines[i].split()]) for i, text in enumerate(texts)]


@pytest.mark.parametrize("path,vocab", TOKENIZERS)
def test_ids_equal_cli_and_hugging_face(shared, cli, tmp_path, path, vocab):
    tok = attend.Tokenizer(str(shared / path))
    cases = vectors(shared, vocab)
    # Every text against Hugging Face's ids; every fourth also against one CLI run (the text
    # from a file, byte for byte) — the C++ suite holds the CLI's tokenizers to all 46, and a
    # CLI run loading GPT-2's vocabulary costs a second on a loaded machine.
    for i, (text, expected) in enumerate(cases):
        ids = tok.encode(text)
        assert ids == expected, f"{path} on {text!r}: {ids}, Hugging Face {expected}"
        if i % 4:
            continue
        f = tmp_path / f"case{i}.txt"
        f.write_bytes(text.encode("utf-8"))
        r = run_cli(cli, "tokenize", "--tokenizer", str(shared / path), "--file", str(f))
        assert r.returncode == 0, r.stderr.decode()
        assert r.stdout.decode().split() == [str(x) for x in ids], f"{path} on {text!r}"
    batch = tok.encode_batch([t for t, _ in cases])
    assert batch == [ids for _, ids in cases]


def test_special_tokens_equal_cli(shared, cli):
    path = str(shared / "llama2c_tokenizer_32k" / "tokenizer.bin")
    tok = attend.Tokenizer(path)
    text = "I believe the meaning of life is"
    assert tok.encode(text, add_special_tokens=True) == [1, 306, 4658, 278, 6593, 310, 2834, 338]
    r = run_cli(cli, "tokenize", "--tokenizer", path, "--text", text, "--special")
    assert r.stdout.decode().split() == [str(x) for x in tok.encode(text, add_special_tokens=True)]
    bert = attend.Tokenizer(str(shared / "bert_vocab" / "vocab.txt"))
    ids = bert.encode("hello world", add_special_tokens=True)
    assert ids[0] == bert.token_to_id("[CLS]") and ids[-1] == bert.token_to_id("[SEP]")


def test_decode_and_tokens(shared, cli):
    path = str(shared / "gpt2_bpe_openai")
    tok = attend.Tokenizer(path)
    text = "Hello world, attend from Python! 🦙"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.decode(np.array(ids, dtype=np.int64)) == text
    assert tok.decode_batch([ids, ids[:2]]) == [text, "Hello world"]
    pieces = tok.tokens("Hello world")
    assert pieces == ["Hello", " world"]
    r = run_cli(cli, "tokenize", "--tokenizer", path, "--text", "Hello world", "--pieces")
    assert [line.split("\t")[1] for line in r.stdout.decode().splitlines()] == pieces
    assert tok.kind == "gpt2-bpe" and tok.vocab_size == 50257 and len(tok) == 50257
    assert tok.id_to_token(15496) == "Hello" and tok.token_to_id("Hello") == 15496
    assert tok.token_to_id("no such token, surely") is None


def test_model_tokenizer_outlives_model(stories):
    tok = attend.load(str(stories)).tokenizer  # the Model object is gone; the tokenizer keeps it alive
    assert tok.decode(tok.encode("Once upon a time")) == "Once upon a time"
