"""Writes the seed corpus for fuzz/tokenizer_files.cpp: small valid files of every kind the
tokenizer readers take, each prefixed by its selector byte (0 tokenizer.bin, 1 tokenizer.json,
2 vocab.txt, 3 vocab.json NUL merges.txt, 4 character vocabulary), plus a few near-misses.
Real files come from the shared data folder ($ATTEND_SHARED_DATA, default ../shared/data).
Run: python3 fuzz/make_tokenizer_corpus.py OUT_DIR (no torch needed)."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("ATTEND_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))


def bytes_to_unicode():  # GPT-2's byte -> printable character map
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tiny_bpe():
    """256 byte tokens, a few merges, <|endoftext|>: a complete byte-level BPE in ~4 KB."""
    m = bytes_to_unicode()
    vocab = {m[b]: b for b in range(256)}
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"), ("Ġ", "w")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, merges


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if not os.path.isdir(DATA):
        sys.exit("make_tokenizer_corpus.py: shared data folder %s is missing" % DATA)
    read = lambda rel: open(os.path.join(DATA, rel), "rb").read()
    vocab, merges = tiny_bpe()
    merges_txt = "#version: 0.2\n" + "".join("%s %s\n" % m for m in merges)
    bpe_json = {"version": "1.0", "added_tokens": [{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "special": True}],
                "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
                "post_processor": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
                "model": {"type": "BPE", "vocab": vocab, "merges": ["%s %s" % m for m in merges]}}
    bpe_pairs = json.loads(json.dumps(bpe_json))
    bpe_pairs["model"]["merges"] = [list(m) for m in merges]
    bpe_pairs["pre_tokenizer"]["add_prefix_space"] = True
    bert_lines = read("bert_vocab/vocab.txt").decode("utf-8").split("\n")
    small_bert = bert_lines[:1000] + [t for t in bert_lines if t in ("hello", "world", "##s", "un", "##able", "the")]
    wp_json = {"added_tokens": [{"id": i, "content": t, "special": True} for i, t in enumerate(small_bert) if t in
                                ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")],
               "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                              "strip_accents": None, "lowercase": True},
               "pre_tokenizer": {"type": "BertPreTokenizer"},
               "post_processor": {"type": "TemplateProcessing",
                                  "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                             {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                                  "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101], "tokens": ["[CLS]"]},
                                                     "[SEP]": {"id": "[SEP]", "ids": [102], "tokens": ["[SEP]"]}}},
               "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                         "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(small_bert)}}}
    tok512 = read("stories260K/tok512.bin")
    seeds = {
        "llama2c_tok512": b"\x00" + tok512,
        "llama2c_aidreams": b"\x00" + read("aidreams260K/tok512.bin"),
        "llama2c_truncated": b"\x00" + tok512[:1000],
        "hf_bpe": b"\x01" + json.dumps(bpe_json, ensure_ascii=False).encode(),
        "hf_bpe_pairs": b"\x01" + json.dumps(bpe_pairs, ensure_ascii=False).encode(),
        "hf_wordpiece": b"\x01" + json.dumps(wp_json, ensure_ascii=False).encode(),
        "hf_char": b"\x01" + json.dumps({"type": "char", "chars": list("\n !abc")}).encode(),
        "vocab_txt": b"\x02" + "\n".join(small_bert).encode() + b"\n",
        "gpt2_pair": b"\x03" + json.dumps(vocab, ensure_ascii=False).encode() + b"\x00" + merges_txt.encode(),
        "gpt2_bad_merge": b"\x03" + json.dumps(vocab, ensure_ascii=False).encode() + b"\x00" + b"#version: 0.2\nq zz\n",
        "chars": b"\x04" + json.dumps({"type": "char", "chars": list("\n !',.?abcdefghijklmnopqrstuvwxyzé🦙")},
                                      ensure_ascii=False).encode(),
    }
    for name, content in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(content)
    print("wrote %d seeds to %s" % (len(seeds), out))


if __name__ == "__main__":
    main()
