#!/usr/bin/python3
"""tests/layering.py — the layers point one way: a lower folder of src/ never includes a higher one.

Reads every `#include "..."` in src/ and include/attend/ and fails, naming file:line, when one
crosses the order below the wrong way. tools/ and python/ sit above everything and may include
anything, so they are not read.

    core < autograd < ops < attention < nn < models < the top row

A folder may include itself and anything lower. Within the top row only the edges in TOP_ROW
are allowed (each with why), and they form no cycle. EXCEPTIONS name the few files that cross
on purpose today; an exception nothing needs any more is an error too, so the list stays true.

Usage: layering.py [ROOT]  (ROOT: the repository, default this file's ../). It first checks
itself on a small tree with one bad include, so it can fail.
"""
import os
import re
import sys
import tempfile

STACK = ["core", "autograd", "ops", "attention", "nn", "models"]
TOP = ["io", "tokenizers", "chat", "viz", "generate", "train", "serve"]

# (from, to): why from may include to. Together an order: io < tokenizers < chat, viz, generate
# < train, serve.
TOP_ROW = {
    ("tokenizers", "io"): "tokenizers read GGUF metadata (io/gguf.hpp) and find their files as io does (io/tokenizer_files.hpp)",
    ("chat", "tokenizers"): "Jinja's string filters work on UTF-8 with the tokenizers' unicode helpers",
    ("viz", "tokenizers"): "an attention record labels its rows with the tokens' text",
    ("generate", "io"): "a text model is loaded from disk; embeddings are written as safetensors",
    ("generate", "tokenizers"): "generation turns text into ids and streams ids back into text",
    ("train", "io"): "training reads token files and writes checkpoints in the model format",
    ("train", "tokenizers"): "training tokenizes its text and keeps the tokenizer beside the model",
    ("train", "generate"): "the translation task decodes with beam search",
    ("train", "viz"): "loss curves are drawn with viz's PNG writer",
    ("serve", "generate"): "the server schedules generation and embeddings",
    ("serve", "chat"): "chat requests are rendered with the model's chat template",
}

# (path prefix, to): why that file may include a layer it otherwise could not.
EXCEPTIONS = {
}

# include/attend/<name>.hpp, the public headers at the top of include/attend, by layer.
PUBLIC_HEADERS = {
    "tensor": "core", "error": "core", "random": "core", "parallel": "core", "profile": "core",
    "low_precision": "core", "buffer_reuse": "core", "int64_list": "core", "version": "core", "read_file": "core",
    "cpu_features": "core",
    "matmul_precision": "ops", "gradcheck": "ops",
    "autograd": "autograd", "ops": "ops", "attention": "attention", "chat_template": "chat",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of_path(parts, where):
    """The layer of a path given as its parts below src/ or include/attend/."""
    if len(parts) == 1:
        name = os.path.splitext(parts[0])[0]
        if name not in PUBLIC_HEADERS:
            raise ValueError(f"{where}: include/attend/{parts[0]} has no layer in PUBLIC_HEADERS (tests/layering.py)")
        return PUBLIC_HEADERS[name]
    if parts[0] not in STACK and parts[0] not in TOP:
        raise ValueError(f"{where}: folder '{parts[0]}' has no layer (tests/layering.py: STACK or TOP)")
    return parts[0]


def file_layer(rel):
    parts = rel.split("/")
    if parts[0] == "src":
        return layer_of_path(parts[1:], rel)
    return layer_of_path(parts[2:], rel)  # include/attend/...


def include_layer(target, own, where):
    parts = target.split("/")
    if parts[0] == "attend":
        return layer_of_path(parts[1:], where)
    if len(parts) == 1:
        return own  # beside the including file
    return layer_of_path(parts, where)


def allowed(src, dst):
    if src == dst:
        return True
    if src in STACK and dst in STACK:
        return STACK.index(dst) < STACK.index(src)
    if src in TOP:
        return dst in STACK or (src, dst) in TOP_ROW
    return False  # a stack layer including the top row


def check(root):
    """Problems as 'file:line: message' strings, plus unused exceptions."""
    problems, used = [], set()
    for top in ("src", "include/attend"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith((".hpp", ".cpp", ".h", ".inc")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                try:
                    src = file_layer(rel)
                except ValueError as e:
                    problems.append(str(e))
                    continue
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for n, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        where = f"{rel}:{n}"
                        try:
                            dst = include_layer(m.group(1), src, where)
                        except ValueError as e:
                            problems.append(str(e))
                            continue
                        if allowed(src, dst):
                            continue
                        exc = next((k for k in EXCEPTIONS if rel.startswith(k[0]) and k[1] == dst), None)
                        if exc:
                            used.add(exc)
                            continue
                        problems.append(f'{where}: {src} includes "{m.group(1)}" ({dst}), a layer it may not '
                                        f"include (tests/layering.py)")
    for k in EXCEPTIONS:
        if k not in used:
            problems.append(f"tests/layering.py: the exception {k[0]} -> {k[1]} is no longer needed; remove it")
    return problems


def no_cycle():
    """TOP_ROW must be an order: a cycle would let two folders lean on each other."""
    seen, done = set(), set()

    def visit(n, trail):
        if n in done:
            return None
        if n in seen:
            return trail[trail.index(n):] + [n]
        seen.add(n)
        for (a, b) in TOP_ROW:
            if a == n:
                c = visit(b, trail + [n])
                if c:
                    return c
        done.add(n)
        return None

    for n in TOP:
        c = visit(n, [])
        if c:
            return " -> ".join(c)
    return None


def self_test():
    """The checker must catch a bad include, or a pass means nothing."""
    global EXCEPTIONS
    saved, EXCEPTIONS = EXCEPTIONS, {}
    try:
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "src", "nn"))
            os.makedirs(os.path.join(d, "include", "attend", "models"))
            with open(os.path.join(d, "src", "nn", "block.cpp"), "w") as f:
                f.write('#include "attend/tensor.hpp"\n#include "attend/models/config.hpp"\n')
            with open(os.path.join(d, "include", "attend", "models", "config.hpp"), "w") as f:
                f.write('#include "attend/nn/block_config.hpp"\n')
            got = check(d)
            want = 'src/nn/block.cpp:2: nn includes "attend/models/config.hpp" (models)'
            if len(got) != 1 or not got[0].startswith(want):
                return f"self-test: expected one problem starting {want!r}, got {got}"
    finally:
        EXCEPTIONS = saved
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    failures = [x for x in (self_test(), no_cycle() and f"TOP_ROW has a cycle: {no_cycle()}") if x]
    failures += check(root)
    for p in failures:
        print(p)
    if failures:
        print(f"layering: {len(failures)} problem(s)")
        return 1
    print("layering: every include in src/ and include/attend/ points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
