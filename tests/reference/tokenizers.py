"""Reference tokenizers, written from the published algorithms, for tests/test_tokenizers.cpp.

  GPT-2      OpenAI's gpt-2/src/encoder.py (bytes_to_unicode, get_pairs, the bpe() loop), reading
             the OpenAI files encoder.json + vocab.bpe. Python's `re` has no \\p{L}: the classes
             \\p{L}, \\p{N} and \\s (Unicode White_Space) are spelled out from unicodedata.
  BERT       Google's bert/tokenization.py (BasicTokenizer + WordpieceTokenizer) on vocab.txt, with
             the three places Hugging Face's Rust BertNormalizer differs from it made to follow
             Hugging Face (the standard): control = any C* category, whitespace = White_Space,
             lower case one character at a time (a final Σ → σ).
  SentencePiece BPE  llama2.c's run.c encode(): dummy-prefix space, characters or <0xXX> bytes,
             then repeatedly merge the best-scoring adjacent pair (leftmost on ties), scanning the
             whole row each time (the C++ uses a heap, so the two are independent implementations).

Before writing anything, each reference must reproduce, for all 46 strings of llama.cpp's
tokenizer tests, the ids Hugging Face's tokenizers gave (../shared/data/llamacpp_vocab_tests);
otherwise the script fails. Then it tokenizes the tricky strings below and saves, for string k:
  text.k = [n, byte_0 .. byte_n-1]       the UTF-8 bytes
  gpt2.k, bert.k, llama.k, tok512.k = [n, id_0 .. id_n-1]
(as f32: every id is below 2^24, so exact).
"""
import json
import os
import re
import struct
import sys
import unicodedata

import torch

from _common import output_path, save

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("ATTEND_SHARED_DATA", os.path.join(HERE, "..", "..", "..", "shared", "data"))

# ---- Unicode classes -----------------------------------------------------------------------
WHITE_SPACE = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B)) + \
              [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]


def char_class(pred):
    """A regex character class body ("a-zA-Z...") for the code points where pred holds."""
    parts, start = [], None
    for cp in range(0x110001):
        inside = cp <= 0x10FFFF and pred(cp)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            end = cp - 1
            parts.append(esc(start) if start == end else esc(start) + "-" + esc(end))
            start = None
    return "".join(parts)


def esc(cp):
    return "\\U%08x" % cp


def is_white_space(ch):
    return ord(ch) in WHITE_SPACE


# ---- GPT-2: OpenAI's encoder.py --------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    pairs = set()
    prev = word[0]
    for ch in word[1:]:
        pairs.add((prev, ch))
        prev = ch
    return pairs


class GPT2Encoder:
    def __init__(self, encoder, bpe_merges):
        self.encoder = encoder
        self.byte_encoder = bytes_to_unicode()
        self.bpe_ranks = dict(zip(bpe_merges, range(len(bpe_merges))))
        self.cache = {}
        L = char_class(lambda cp: unicodedata.category(chr(cp))[0] == "L")
        N = char_class(lambda cp: unicodedata.category(chr(cp))[0] == "N")
        S = "".join(esc(cp) for cp in WHITE_SPACE)
        # 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
        self.pat = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[%s]+| ?[%s]+| ?[^%s%s%s]+|[%s]+(?![^%s])|[%s]+"
                              % (L, N, S, L, N, S, S, S))

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(" "))
        return bpe_tokens


def load_gpt2():
    folder = os.path.join(DATA, "gpt2_bpe_openai")
    with open(os.path.join(folder, "encoder.json"), encoding="utf-8") as f:
        encoder = json.load(f)
    with open(os.path.join(folder, "vocab.bpe"), encoding="utf-8") as f:
        bpe_data = f.read()
    bpe_merges = [tuple(merge_str.split()) for merge_str in bpe_data.split("\n")[1:-1]]
    return GPT2Encoder(encoder, bpe_merges)


# ---- BERT: Google's tokenization.py ---------------------------------------------------------
def _is_whitespace(char):
    return char in " \t\n\r" or is_white_space(char)          # HF: White_Space (Google: Zs)


def _is_control(char):
    if char in "\t\n\r":
        return False
    return unicodedata.category(char)[0] == "C"                # HF: all of C* (Google: Cc, Cf)


def _is_punctuation(char):
    cp = ord(char)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese_char(cp):
    return ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF) or (0x20000 <= cp <= 0x2A6DF) or
            (0x2A700 <= cp <= 0x2B73F) or (0x2B740 <= cp <= 0x2B81F) or (0x2B820 <= cp <= 0x2CEAF) or
            (0xF900 <= cp <= 0xFAFF) or (0x2F800 <= cp <= 0x2FA1F))


class BasicTokenizer:
    def tokenize(self, text):
        text = self._clean_text(text)
        text = self._tokenize_chinese_chars(text)
        orig_tokens = text.strip().split()  # str.split() also splits at \x1c-\x1f, gone already (C*)
        split_tokens = []
        for token in orig_tokens:
            token = "".join(c.lower() for c in token)          # HF: per character (Google: token.lower())
            token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token))
        return " ".join(split_tokens).split()

    def _run_strip_accents(self, text):
        text = unicodedata.normalize("NFD", text)
        return "".join(c for c in text if unicodedata.category(c) != "Mn")

    def _run_split_on_punc(self, text):
        output, start_new_word = [], True
        for char in text:
            if _is_punctuation(char):
                output.append([char])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(char)
        return ["".join(x) for x in output]

    def _tokenize_chinese_chars(self, text):
        return "".join(" %s " % c if _is_chinese_char(ord(c)) else c for c in text)

    def _clean_text(self, text):
        output = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xFFFD or _is_control(char):
                continue
            output.append(" " if _is_whitespace(char) else char)
        return "".join(output)


class WordpieceTokenizer:
    def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=100):
        self.vocab, self.unk_token, self.max_input_chars_per_word = vocab, unk_token, max_input_chars_per_word

    def tokenize(self, token):
        chars = list(token)
        if len(chars) > self.max_input_chars_per_word:
            return [self.unk_token]
        is_bad, start, sub_tokens = False, 0, []
        while start < len(chars):
            end, cur_substr = len(chars), None
            while start < end:
                substr = "".join(chars[start:end])
                if start > 0:
                    substr = "##" + substr
                if substr in self.vocab:
                    cur_substr = substr
                    break
                end -= 1
            if cur_substr is None:
                is_bad = True
                break
            sub_tokens.append(cur_substr)
            start = end
        return [self.unk_token] if is_bad else sub_tokens


class BertTokenizer:
    def __init__(self, vocab_file):
        self.vocab = {}
        with open(vocab_file, encoding="utf-8") as f:
            for index, line in enumerate(f):
                self.vocab[line.rstrip("\n")] = index
        self.basic, self.wordpiece = BasicTokenizer(), WordpieceTokenizer(self.vocab)

    def encode(self, text):
        return [self.vocab[t] for w in self.basic.tokenize(text) for t in self.wordpiece.tokenize(w)]


# ---- SentencePiece BPE: llama2.c's encode() -------------------------------------------------
class Llama2cTokenizer:
    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.pieces, self.scores, at = [], [], 4
        while at < len(data):
            score, n = struct.unpack_from("<fi", data, at)
            self.pieces.append(data[at + 8:at + 8 + n])
            self.scores.append(score)
            at += 8 + n
        self.lookup = {}
        for i, p in enumerate(self.pieces):
            self.lookup.setdefault(p, i)

    def encode(self, text, bos=False):
        tokens = [1] if bos else []
        if not text:
            return tokens
        row = [self.lookup[b" "]]
        for ch in text:
            b = ch.encode("utf-8")
            if b in self.lookup:
                row.append(self.lookup[b])
            else:
                row.extend(x + 3 for x in b)  # <0x00> is id 3
        while True:
            best_score, best_id, best_idx = -1e10, -1, -1
            for i in range(len(row) - 1):
                merged = self.pieces[row[i]] + self.pieces[row[i + 1]]
                j = self.lookup.get(merged)
                if j is not None and self.scores[j] > best_score:
                    best_score, best_id, best_idx = self.scores[j], j, i
            if best_idx == -1:
                break
            row[best_idx:best_idx + 2] = [best_id]
        return tokens + row


# ---- the checks and the tricky strings ------------------------------------------------------
def llamacpp_cases(name):
    folder = os.path.join(DATA, "llamacpp_vocab_tests")
    with open(os.path.join(folder, "ggml-vocab-%s.gguf.inp" % name), encoding="utf-8", newline="") as f:
        texts = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    with open(os.path.join(folder, "ggml-vocab-%s.gguf.out" % name), encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    return [(t, [int(x) for x in lines[i].split()]) for i, t in enumerate(texts)]


TRICKY = [
    "Hello, world! It's 2024 and we're testing: can't won't I'd we'll they've I'm",
    "'s 'S 'RE don't DON'T y'all rock'n'roll ''quoted'' '",
    "emoji 🦙🚀 and a family 👨\u200d👩\u200d👧 and flags 🇫🇷🇯🇵 and skin 👍🏽",
    "CJK 我想在apple工作 日本語のテキスト、カタカナ 한국어 텍스트",
    "tabs\tand\nnewlines\r\n  and   multiple    spaces   ",
    "\n\n\nonly newlines\n",
    "  leading and trailing  ",
    " ",
    "\t",
    "numbers 3.14159 1,000,000 0x1F 1e-9 ١٢٣ ½ ² ⅻ 2023-12-31",
    "accents: café naïve Ångström façade Crème Brûlée São Paulo Dvořák İstanbul",
    "Greek ΟΔΥΣΣΕΥΣ Ὀδυσσεύς and Cyrillic Привет, мир! Ёлка",
    "Combining: e\u0301 a\u0308 n\u0303 (decomposed) vs é ä ñ (composed)",
    "Control \u0007 bell, zero-width \u200b\u200c\u200d joiners, BOM \ufeff, replacement \ufffd",
    "no-break\u00a0space, em\u2003space, ideographic\u3000space, line\u2028separator",
    "Long word " + "supercalifragilisticexpialidocious" * 4 + " end",
    "<|endoftext|> is plain text here, and so are [CLS] [MASK] <s> </s>",
    "code: def f(x):\n    return x**2  # square\n\tif (a && b) { c[i] = d; }",
    "URLs https://example.com/path?q=1&r=2#frag and mail a.b@c.de",
    "Mixed scripts: مرحبا بالعالم, שלום עולם, नमस्ते दुनिया, สวัสดี",
    "Ünïcödé ÆØÅ æøå ß ẞ ﬁ ligature Ⅻ",
    "!!!???...,,,;;;::: --- ___ *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}}",
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "I believe the meaning of life is",
    "a" * 99 + " " + "a" * 100 + " " + "a" * 101,
]


def ids_tensor(ids):
    return torch.tensor([len(ids)] + list(ids), dtype=torch.float32)


def main():
    out = output_path()
    if not os.path.isdir(DATA):
        sys.exit("tokenizers.py: shared test data folder %s is missing" % DATA)
    gpt2 = load_gpt2()
    bert = BertTokenizer(os.path.join(DATA, "bert_vocab", "vocab.txt"))
    llama = Llama2cTokenizer(os.path.join(DATA, "llama2c_tokenizer_32k", "tokenizer.bin"))
    tok512 = Llama2cTokenizer(os.path.join(DATA, "stories260K", "tok512.bin"))

    # The references must themselves agree with Hugging Face before they judge anything.
    failures = 0
    for name, tok in (("gpt-2", gpt2), ("bert-bge", bert), ("llama-spm", llama)):
        cases = llamacpp_cases(name)
        good = sum(tok.encode(text) == ids for text, ids in cases)
        for text, ids in cases:
            if tok.encode(text) != ids:
                print("reference %s disagrees with Hugging Face on %r: %s vs %s" % (name, text, tok.encode(text), ids))
        print("reference %s: %d/%d of llama.cpp's Hugging Face ids" % (name, good, len(cases)))
        failures += len(cases) - good
    # llama2.c's test.c (encode with BOS).
    assert llama.encode("I believe the meaning of life is", bos=True) == [1, 306, 4658, 278, 6593, 310, 2834, 338]
    assert llama.encode("Simply put, the theory of relativity states that ", bos=True) == \
        [1, 3439, 17632, 1925, 29892, 278, 6368, 310, 14215, 537, 5922, 393, 29871]
    if failures:
        sys.exit("tokenizers.py: %d reference encodings disagree with Hugging Face" % failures)

    tensors = {}
    for k, text in enumerate(TRICKY):
        tensors["text.%d" % k] = ids_tensor(text.encode("utf-8"))
        tensors["gpt2.%d" % k] = ids_tensor(gpt2.encode(text))
        tensors["bert.%d" % k] = ids_tensor(bert.encode(text))
        tensors["llama.%d" % k] = ids_tensor(llama.encode(text))
        tensors["tok512.%d" % k] = ids_tensor(tok512.encode(text))
    save(out, tensors, metadata={"strings": len(TRICKY)})


if __name__ == "__main__":
    main()
