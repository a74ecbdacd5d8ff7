"""tokenizer.json pipelines, component by component, for tests/test_tokenizer_pipeline.cpp.

Hugging Face's `tokenizers` is not installed here (Debian ships no package), so the expected ids
come from the independent implementations below, written in plain Python from the documented
behaviour of each component (tokenizers' docs and its normalizers/, pre_tokenizers/, models/,
decoders/ sources as published): NFC/NFKC/NFD via unicodedata, Python's `re` for the Split
patterns (the C++ uses PCRE2: patterns here use only what both engines read alike), the BPE
merge loop as a naive "lowest rank, leftmost" rescan (the C++ uses a heap), WordPiece greedy
longest match, Unigram by an exhaustive-DP Viterbi, and each decoder.

Writes, beside --out, tokenizer_pipeline/<name>.json (small tokenizer.json files) and
tokenizer_pipeline/cases.json: [{"file", "text", "special", "ids", "decoded"}], decoded being
decode(ids) with special tokens kept. --out itself holds the number of cases (the fixture).
"""
import json
import os
import re
import unicodedata

import torch

from _common import output_path, save

SP = "\u2581"


# ---- byte-level ---------------------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
U2B = {v: k for k, v in B2U.items()}


def to_byte_chars(s):
    return "".join(B2U[b] for b in s.encode())


# ---- the models ---------------------------------------------------------------------------
def bpe(word, vocab, merges, unk=None, byte_fallback=False, fuse_unk=False, prefix="", suffix="", ignore_merges=False):
    if ignore_merges and word in vocab:
        return [vocab[word]]
    ranks = {}
    for r, (a, b) in enumerate(merges):
        ranks.setdefault((a, b), r)
    syms = []  # token strings
    chars = list(word)
    last_unk = False
    for i, c in enumerate(chars):
        s = (prefix if i else "") + c + (suffix if i == len(chars) - 1 else "")
        if s in vocab:
            syms.append(s)
            last_unk = False
            continue
        if byte_fallback:
            bs = ["<0x%02X>" % b for b in c.encode()]
            if all(b in vocab for b in bs):
                syms.extend(bs)
                last_unk = False
                continue
        if not (fuse_unk and last_unk):
            syms.append(unk)
        last_unk = True
    while True:
        best = None
        for k in range(len(syms) - 1):
            r = ranks.get((syms[k], syms[k + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, k)
        if best is None:
            break
        k = best[1]
        b = syms[k + 1]
        if prefix and b.startswith(prefix):
            b = b[len(prefix):]
        syms[k:k + 2] = [syms[k] + b]
    return [vocab[s] for s in syms]


def wordpiece(word, vocab, unk="[UNK]", prefix="##", max_chars=100):
    if len(word) > max_chars:
        return [vocab[unk]]
    out, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            s = (prefix if start else "") + word[start:end]
            if s in vocab:
                cur = s
                break
            end -= 1
        if cur is None:
            return [vocab[unk]]
        out.append(vocab[cur])
        start = end
    return out


def unigram(word, pieces, unk_id, byte_fallback):
    ids = {p: i for i, (p, _) in reversed(list(enumerate(pieces)))}
    score = {i: s for i, (_, s) in enumerate(pieces)}
    unk_score = min(s for _, s in pieces) - 10.0
    n = len(word)
    best = [None] * (n + 1)  # (score, prev, id or None)
    best[0] = (0.0, -1, None)
    for b in range(n):
        if best[b] is None:
            continue
        single = False
        for e in range(b + 1, n + 1):
            p = word[b:e]
            if p in ids:
                if e == b + 1:
                    single = True
                s = best[b][0] + score[ids[p]]
                if best[e] is None or s > best[e][0]:
                    best[e] = (s, b, ids[p])
        if not single:
            s = best[b][0] + unk_score
            if best[b + 1] is None or s > best[b + 1][0]:
                best[b + 1] = (s, b, None)
    path, e = [], n
    while e > 0:
        s, b, i = best[e]
        path.append((b, e, i))
        e = b
    path.reverse()
    out, k = [], 0
    while k < len(path):
        b, e, i = path[k]
        if i is not None:
            out.append(i)
            k += 1
            continue
        while k + 1 < len(path) and path[k + 1][2] is None:
            k += 1
            e = path[k][1]
        text = word[b:e]
        bs = ["<0x%02X>" % x for x in text.encode()]
        if byte_fallback and all(x in ids for x in bs):
            out.extend(ids[x] for x in bs)
        else:
            out.append(unk_id)
        k += 1
    return out


# ---- splitting ----------------------------------------------------------------------------
def split_spans(text, matches, behavior, invert=False):
    """matches: [(b, e)] → pieces by SplitDelimiterBehavior."""
    spans, at = [], 0
    for b, e in matches:
        if b > at:
            spans.append([at, b, False])
        spans.append([b, e, True])
        at = e
    if at < len(text):
        spans.append([at, len(text), False])
    if invert:
        spans = [[b, e, not m] for b, e, m in spans]
    out = []
    if behavior == "Removed":
        out = [s for s in spans if not s[2]]
    elif behavior == "Isolated":
        out = spans
    elif behavior == "MergedWithPrevious":
        prev = False
        for s in spans:
            if s[2] and not prev and out:
                out[-1][1] = s[1]
            else:
                out.append(list(s))
            prev = s[2]
    elif behavior == "MergedWithNext":
        prev = False
        for s in reversed(spans):
            if s[2] and not prev and out:
                out[-1][0] = s[0]
            else:
                out.append(list(s))
            prev = s[2]
        out.reverse()
    elif behavior == "Contiguous":
        prev = False
        for s in spans:
            if s[2] == prev and out:
                out[-1][1] = s[1]
            else:
                out.append(list(s))
            prev = s[2]
    return [text[b:e] for b, e, _ in out if e > b]


def regex_split(text, pattern, behavior, invert=False):
    return split_spans(text, [m.span() for m in re.finditer(pattern, text) if m.end() > m.start()], behavior, invert)


def char_split(text, pred, behavior):
    return split_spans(text, [(i, i + 1) for i, c in enumerate(text) if pred(c)], behavior)


def is_punct(c):
    return (c.isascii() and not c.isalnum() and c.isprintable() and c != " ") or unicodedata.category(c).startswith("P")


def is_ws(c):
    return c.isspace()


# ---- the cases ----------------------------------------------------------------------------
CASES = []


def case(name, tok, texts, encode, decode, special_texts=()):
    CASES.append((name, tok, [(t, False) for t in texts] + [(t, True) for t in special_texts], encode, decode))


def letters_vocab(extra):
    vocab = {}
    for t in extra:
        vocab.setdefault(t, len(vocab))
    return vocab


# 1. Llama-2's tokenizer.json form: Prepend + Replace normalizers, BPE with byte_fallback and
#    fuse_unk, the Replace/ByteFallback/Fuse/Strip decoder chain, TemplateProcessing with <s>.
def llama_like():
    vocab = letters_vocab(["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] +
                          [SP] + list("abcdefghijklmnopqrstuvwxyzHW!,.0123456789"))
    merges = [(SP, "t"), ("h", "e"), (SP + "t", "he"), ("l", "l"), ("ll", "o"), ("H", "e"), ("He", "llo"), (SP, "He"),
              (SP + "He", "llo"), ("o", "r"), ("W", "or"), ("Wor", "l"), ("Worl", "d"), (SP, "World"), (SP, "w"),
              (SP + "w", "or"), (SP + "wor", "l"), (SP + "worl", "d"), (SP, SP)]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = {"version": "1.0", "added_tokens": [
        {"id": 0, "content": "<unk>", "special": True, "lstrip": False, "rstrip": False, "normalized": False, "single_word": False},
        {"id": 1, "content": "<s>", "special": True, "lstrip": False, "rstrip": False, "normalized": False, "single_word": False},
        {"id": 2, "content": "</s>", "special": True, "lstrip": False, "rstrip": False, "normalized": False, "single_word": False}],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": SP},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": SP}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": SP}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]}}
    inv = {v: k for k, v in vocab.items()}

    def encode(text, special):
        out = [1] if special else []
        for k, seg in enumerate(re.split("(<s>)", text) if special else [text]):
            if seg == "<s>" and k % 2 == 1:
                out.append(1)
            elif seg:
                out += bpe(SP + seg.replace(" ", SP), vocab, merges, "<unk>", byte_fallback=True, fuse_unk=True)
        return out

    def decode(ids):
        toks = [inv[i].replace(SP, " ") for i in ids]
        out, buf = [], b""
        for t in toks:
            m = re.fullmatch(r"<0x([0-9A-F]{2})>", t)
            if m:
                buf += bytes([int(m.group(1), 16)])
                continue
            if buf:
                out.append(buf.decode())
                buf = b""
            out.append(t)
        if buf:
            out.append(buf.decode())
        s = "".join(out)
        return s[1:] if s.startswith(" ") else s

    case("llama_like", tok, ["Hello world", " the World", "Hello  wörld ☃!", "tab\there 42", "x", ""], encode, decode,
         special_texts=["Hello<s> world"])


# 2. CLIP-like: NFKC + Lowercase normalizers, Whitespace pre-tokenizer, BPE with an
#    end_of_word_suffix, BPEDecoder.
def suffix_bpe():
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789!.,'")
    vocab = letters_vocab(["<unk>"] + chars + [c + "</w>" for c in chars])
    merges = [("t", "h"), ("th", "e</w>"), ("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o</w>"), ("o", "r"),
              ("w", "or"), ("wor", "l"), ("worl", "d</w>"), ("f", "i")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = {"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
           "pre_tokenizer": {"type": "Whitespace"},
           "decoder": {"type": "BPEDecoder", "suffix": "</w>"},
           "model": {"type": "BPE", "unk_token": "<unk>", "end_of_word_suffix": "</w>", "vocab": vocab,
                     "merges": [[a, b] for a, b in merges]}}
    inv = {v: k for k, v in vocab.items()}

    def encode(text, special):
        text = unicodedata.normalize("NFKC", text).lower()
        out = []
        for w in re.findall(r"\w+|[^\w\s]+", text):
            out += bpe(w, vocab, merges, "<unk>", suffix="</w>")
        return out

    def decode(ids):
        toks = [inv[i] for i in ids]
        return "".join(t.replace("</w>", "" if k == len(toks) - 1 else " ") for k, t in enumerate(toks))

    case("suffix_bpe", tok, ["Hello World!", "ﬁne THE hello", "Ｈｅｌｌｏ world's 12", "ünïcode"], encode, decode)


# 3. Qwen/Llama-3-like: a regex Split, then ByteLevel without its own regex; BPE with
#    ignore_merges; added special tokens (<|im_start|>) matched with add_special only.
def byte_level_split():
    pattern = r"'s|'t| ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+"
    vocab = letters_vocab([B2U[b] for b in range(256)])
    merges = [("Ġ", "w"), ("o", "r"), ("Ġw", "or"), ("l", "d"), ("Ġwor", "ld"), ("h", "e"), ("l", "l"), ("he", "ll"),
              ("hell", "o"), ("1", "2"), ("12", "3")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab.setdefault("Ġhello", len(vocab))  # reachable only whole (ignore_merges): no merge makes it
    added = [("<|im_start|>", True), ("<|im_end|>", True)]
    for t, _ in added:
        vocab.setdefault(t, len(vocab))
    tok = {"added_tokens": [{"id": vocab[t], "content": t, "special": s, "lstrip": False, "rstrip": False,
                             "normalized": False, "single_word": False} for t, s in added],
           "normalizer": {"type": "NFC"},
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
               {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
           "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
           "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
           "model": {"type": "BPE", "dropout": 0.0, "ignore_merges": True, "byte_fallback": False, "vocab": vocab,
                     "merges": [a + " " + b for a, b in merges]}}
    inv = {v: k for k, v in vocab.items()}

    def enc_text(text):
        out = []
        for piece in re.findall(pattern, unicodedata.normalize("NFC", text)):
            out += bpe(to_byte_chars(piece), vocab, merges, ignore_merges=True)
        return out

    def encode(text, special):
        if not special:
            return enc_text(text)
        out = []
        for k, seg in enumerate(re.split(r"(<\|im_start\|>|<\|im_end\|>)", text)):
            out += [vocab[seg]] if k % 2 else enc_text(seg)
        return out

    def decode(ids):
        data = b""
        for i in ids:
            t = inv[i]
            data += bytes(U2B[c] for c in t) if all(c in U2B for c in t) else t.encode()
        return data.decode()

    case("byte_level_split", tok, ["hello world", " hello world's 12345", "e\u0301t\u00e9  \n\n x", "<|im_start|>user"],
         encode, decode, special_texts=["<|im_start|>user\nhello<|im_end|>\n"])


# 4. WordPiece inside a general pipeline: NFD + StripAccents + Lowercase + Strip, then
#    WhitespaceSplit, Punctuation and Digits (individual); WordPiece decoder; BertProcessing.
def wordpiece_pipeline():
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "the", "un", "##aff", "##able", ",", "!",
             "'", "1", "2", "3", "cafe", "##e", "a", "b"]
    vocab = letters_vocab(words)
    tok = {"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"},
                                                              {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": True}]},
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
                                                                   {"type": "Punctuation", "behavior": "Isolated"},
                                                                   {"type": "Digits", "individual_digits": True}]},
           "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
           "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
           "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                     "max_input_chars_per_word": 100, "vocab": vocab}}
    inv = {v: k for k, v in vocab.items()}

    def encode(text, special):
        t = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower().strip()
        out = []
        for w in [w for w in re.split(r"\s+", t) if w]:
            for p in char_split(w, is_punct, "Isolated"):
                for q in char_split(p, lambda c: c.isnumeric(), "Isolated"):
                    out += wordpiece(q, vocab)
        return [2] + out + [3] if special else out

    def decode(ids):
        toks = [inv[i] for i in ids]
        s = ""
        for k, t in enumerate(toks):  # the cleanup applies to each token (with its space), not the whole
            t = (t[2:] if t.startswith("##") else t) if k == 0 or t.startswith("##") else " " + t
            for a, b in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                         (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]:
                t = t.replace(a, b)
            s += t
        return s

    case("wordpiece_pipeline", tok, ["  Hello, WORLDS!  ", "unaffable café 123", "the zzz world's"], encode, decode,
         special_texts=["hello world"])


# 5. Unigram with byte_fallback, NFKC, Metaspace (prepend_scheme first, split), Metaspace decoder.
def unigram_case():
    pieces = [("<unk>", 0.0), (SP, -2.0), (SP + "he", -3.0), ("llo", -3.5), (SP + "hello", -5.0), ("h", -4.0),
              ("e", -4.0), ("l", -4.0), ("o", -4.0), (SP + "w", -4.5), ("or", -4.0), ("ld", -4.0), (SP + "world", -9.5),
              ("w", -5.0), ("r", -5.0), ("d", -5.0), (SP + "a", -3.0), ("a", -4.0), ("b", -4.0), ("ab", -7.9)]
    pieces += [("<0x%02X>" % b, -10.0) for b in range(256)]
    tok = {"normalizer": {"type": "NFKC"},
           "pre_tokenizer": {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": True},
           "decoder": {"type": "Sequence", "decoders": [
               {"type": "ByteFallback"},
               {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": True}]},
           "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": True, "vocab": [[p, s] for p, s in pieces]}}
    ids = {p: i for i, (p, _) in reversed(list(enumerate(pieces)))}

    def encode(text, special):
        t = unicodedata.normalize("NFKC", text).replace(" ", SP)
        if t and not t.startswith(SP):
            t = SP + t
        words, start = [], 0
        for k in range(1, len(t)):
            if t[k] == SP:
                words.append(t[start:k])
                start = k
        if t:
            words.append(t[start:])
        out = []
        for w in words:
            out += unigram(w, pieces, 0, True)
        return out

    def decode(ids_):
        toks = [pieces[i][0] for i in ids_]
        out, buf = [], b""
        for k, t in enumerate(toks):
            m = re.fullmatch(r"<0x([0-9A-F]{2})>", t)
            if m:
                buf += bytes([int(m.group(1), 16)])
                continue
            if buf:
                out.append(buf.decode())
                buf = b""
            out.append(t.replace(SP, "") if k == 0 else t.replace(SP, " "))
        if buf:
            out.append(buf.decode())
        return "".join(out)

    case("unigram", tok, ["hello world", "aab ab", "héllo wörld", " lead", "ﬀ ab"], encode, decode)


# 6. Split's five behaviors and invert, over a WordPiece vocabulary of each one's own pieces
#    (a piece the reference does not make would not be one token).
def split_behaviors():
    texts = ["a-b--c-", "-x1-22y", "12ab345c6"]
    for behavior in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        for invert in [False, True]:
            for pat_json, pat_re in [({"String": "-"}, "-"), ({"Regex": "[0-9]+"}, "[0-9]+")]:
                pieces = []
                for t in texts:
                    pieces += regex_split(t, pat_re, behavior, invert)
                chars = sorted(set("".join(texts)))
                vocab = letters_vocab(["[UNK]"] + sorted(set(pieces)) + chars + ["##" + c for c in chars])
                name = f"split_{behavior}_{'invert' if invert else 'plain'}_{'string' if 'String' in pat_json else 'regex'}"
                tok = {"pre_tokenizer": {"type": "Split", "pattern": pat_json, "behavior": behavior, "invert": invert},
                       "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab}}
                inv = {v: k for k, v in vocab.items()}

                def encode(text, special, pat_re=pat_re, behavior=behavior, invert=invert, vocab=vocab):
                    return [vocab[p] for p in regex_split(text, pat_re, behavior, invert)]

                def decode(ids, inv=inv):
                    return " ".join(inv[i] for i in ids)

                case(name, tok, texts, encode, decode)


# 7. Added tokens' flags: lstrip/rstrip take the whitespace beside a match, single_word needs
#    non-word characters around it; the longest match wins where two start at one place.
def added_flags():
    vocab = letters_vocab([B2U[b] for b in range(256)])
    added = [("<mask>", True, True, False, False), ("<eot>", True, False, True, False), ("cat", False, False, False, True),
             ("<e", True, False, False, False)]
    entries = []
    for content, special, lstrip, rstrip, single in added:
        vocab.setdefault(content, len(vocab))
        entries.append({"id": vocab[content], "content": content, "special": special, "lstrip": lstrip,
                        "rstrip": rstrip, "normalized": False, "single_word": single})
    tok = {"added_tokens": entries,
           "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
           "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "vocab": vocab, "merges": []}}
    inv = {v: k for k, v in vocab.items()}
    gpt2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+"

    def enc_text(text):
        return [vocab[c] for piece in re.findall(gpt2, text) for c in to_byte_chars(piece)]

    def encode(text, special):
        # Leftmost, then longest, match among the tokens allowed; single_word: \w neither side.
        out, at, i = [], 0, 0
        allowed = [a for a in added if special or not a[1]]
        allowed.sort(key=lambda a: -len(a[0]))
        while i < len(text):
            hit = None
            for content, sp, lstrip, rstrip, single in allowed:
                if text.startswith(content, i):
                    e = i + len(content)
                    if single and ((i > 0 and re.match(r"\w", text[i - 1])) or (e < len(text) and re.match(r"\w", text[e]))):
                        continue
                    b = i
                    if lstrip:
                        while b > at and text[b - 1].isspace():
                            b -= 1
                    if rstrip:
                        while e < len(text) and text[e].isspace():
                            e += 1
                    hit = (b, e, vocab[content])
                    break
            if hit is None:
                i += 1
                continue
            out += enc_text(text[at:hit[0]]) + [hit[2]]
            at = i = hit[1]
        return out + enc_text(text[at:])

    def decode(ids):
        data = b""
        for i in ids:
            t = inv[i]
            data += bytes(U2B[c] for c in t) if all(c in U2B for c in t) else t.encode()
        return data.decode()

    case("added_flags", tok, ["a cat sat", "concatenate cat.", "x <mask> y"], encode, decode,
         special_texts=["x   <mask>  y", "end <eot>  \n next", "a cat, <e <eot>", "<e<eot>"])


def main():
    out = output_path()
    folder = os.path.join(os.path.dirname(out), "tokenizer_pipeline")
    os.makedirs(folder, exist_ok=True)
    for f in [llama_like, suffix_bpe, byte_level_split, wordpiece_pipeline, unigram_case, split_behaviors, added_flags]:
        f()
    manifest = []
    for name, tok, texts, encode, decode in CASES:
        path = os.path.join(folder, name + ".json")
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(tok, fh, ensure_ascii=False)
        os.replace(path + ".tmp", path)
        for text, special in texts:
            ids = encode(text, special)
            manifest.append({"file": name + ".json", "text": text, "special": special, "ids": ids, "decoded": decode(ids)})
    with open(os.path.join(folder, "cases.json.tmp"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, ensure_ascii=False, indent=0)
    os.replace(os.path.join(folder, "cases.json.tmp"), os.path.join(folder, "cases.json"))
    save(out, {"cases": torch.tensor([float(len(manifest))])})


if __name__ == "__main__":
    main()
