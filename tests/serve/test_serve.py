#!/usr/bin/env python3
"""tests/serve/test_serve.py — `attend serve` against a real model, over loopback, with a
standard-library client. One check per run (--check NAME), each on its own server:

  concurrency   32 streaming requests at once (completions and chats; greedy, seeded
                sampling, top-k/top-p, stop strings), each byte-identical to `attend generate`
                with the same settings; then a few of them alone, not streamed, again equal
  kv_bf16       the same for 12 of them on a server with --kv-cache bf16 against `attend
                generate --kv-cache bf16` (a sequence's bits do not depend on its batch)
  errors        malformed JSON, wrong types, unknown model, max_tokens past the context,
                out-of-range sampling values → 400 with OpenAI's error object; no or a wrong
                API key → 401; a body past --max-body → 413; unknown route → 404; a full
                queue → 503 with Retry-After; the other endpoints' shapes
  disconnect    a client that hangs up mid-stream: its slot is free again at once (long
                before its max_tokens could have been generated), counted as cancelled
  memory        1,000 requests: the server's RSS after them within a bound of what it was
                after the first 100
  signals       SIGTERM with a stream in flight: the stream ends with an error event and
                [DONE], the server exits 0
  chat_template a model folder with a Jinja chat template that writes BOS: a chat's reply
                equals `attend generate` on the prompt `attend chat-template` renders (after
                its "<s>", which is the one BOS); a template's raise_exception is a 400 naming it
"""
import argparse
import json
import os
import tempfile
import socket
import subprocess
import sys
import threading
import time

from server_process import Server, completion_text

PROMPTS = ["Once upon a time", "Lily and Ben went to the park", "The little dog", "One day, a bird",
           "Tom had a red ball. He", "Sue liked to sing"]


def generate_cli(attend, model, prompt, n, temperature, top_p, top_k, seed, stop, kv_cache="f32"):
    cmd = [attend, "generate", "--model", model, "--prompt", prompt, "-n", str(n), "--temperature", str(temperature),
           "--top-p", str(top_p), "--top-k", str(top_k), "--seed", str(seed), "--kv-cache", kv_cache]
    for s in stop:
        cmd += ["--stop", s]
    return subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout.decode("utf-8")


def expected_completion(attend, model, prompt, n, temperature, top_p, top_k, seed, stop, cache, kv_cache="f32"):
    """What `attend generate` prints after the prompt's own text (and before its newline)."""
    if prompt not in cache:
        cache[prompt] = generate_cli(attend, model, prompt, 0, 0, 1, 0, 0, [])[:-1]
    out = generate_cli(attend, model, prompt, n, temperature, top_p, top_k, seed, stop, kv_cache)
    prime = cache[prompt]
    assert out.startswith(prime) and out.endswith("\n"), (prompt, out)
    return out[len(prime):-1]


def request_specs():
    specs = []
    for i in range(32):
        prompt = PROMPTS[i % len(PROMPTS)]
        kind = i % 4
        spec = {"prompt": prompt, "max_tokens": 20 + (i * 7) % 90, "seed": 1000 + i, "stop": [], "chat": i % 3 == 2}
        if kind == 0:
            spec.update(temperature=0.0, top_p=1.0, top_k=0)
        elif kind == 1:
            spec.update(temperature=0.8, top_p=0.9, top_k=0)
        elif kind == 2:
            spec.update(temperature=1.0, top_p=1.0, top_k=40)
        else:
            spec.update(temperature=0.7, top_p=0.95, top_k=20, stop=[".", " was"] if i % 8 == 3 else ["Lily"])
        specs.append(spec)
    return specs


def body_of(spec, model_id):
    body = {"model": model_id, "max_tokens": spec["max_tokens"], "temperature": spec["temperature"],
            "top_p": spec["top_p"], "top_k": spec["top_k"], "seed": spec["seed"]}
    if spec["stop"]:
        body["stop"] = spec["stop"]
    if spec["chat"]:
        body["messages"] = [{"role": "user", "content": spec["prompt"]}]
    else:
        body["prompt"] = spec["prompt"]
    return body


def cli_prompt(spec):
    # The plain chat fallback (serve/chat_prompt.hpp): "User: <content>\nAssistant:".
    return f"User: {spec['prompt']}\nAssistant:" if spec["chat"] else spec["prompt"]


def check_concurrency(args, requests=32, kv_cache="f32"):
    specs = request_specs()[:requests]
    cache = {}
    expected = [expected_completion(args.attend, args.model, cli_prompt(s), s["max_tokens"], s["temperature"],
                                    s["top_p"], s["top_k"], s["seed"], s["stop"], cache, kv_cache) for s in specs]
    assert sum(1 for e in expected if e) >= requests - 2, "the reference generations are mostly empty"
    srv = Server(args.attend, args.model, "--parallel", "16", "--queue", "64", "--kv-cache", kv_cache)
    try:
        model_id = srv.request("GET", "/v1/models")[1]["data"][0]["id"]
        results = [None] * len(specs)
        barrier = threading.Barrier(len(specs))

        def run(i):
            barrier.wait()
            path = "/v1/chat/completions" if specs[i]["chat"] else "/v1/completions"
            events, done = srv.stream(path, body_of(specs[i], model_id))
            results[i] = (completion_text(events, specs[i]["chat"]), done, events)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(specs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        bad = []
        for i, (spec, want) in enumerate(zip(specs, expected)):
            got, done, events = results[i]
            if not done or got != want:
                bad.append(f"request {i} {spec}: done={done}\n  server: {got!r}\n  attend generate: {want!r}")
            finish = [c["finish_reason"] for e in events for c in e.get("choices", []) if c.get("finish_reason")]
            if finish not in (["stop"], ["length"]):
                bad.append(f"request {i}: finish reasons {finish}")
        assert not bad, "streamed responses differ from attend generate:\n" + "\n".join(bad)
        steps = srv.health()["decode_steps"]
        # Alone and not streamed: the same text again, with usage.
        for i in (0, 1, 2, 3, 5):
            path = "/v1/chat/completions" if specs[i]["chat"] else "/v1/completions"
            status, res, _ = srv.request("POST", path, body_of(specs[i], model_id))
            assert status == 200, res
            choice = res["choices"][0]
            got = choice["message"]["content"] if specs[i]["chat"] else choice["text"]
            assert got == expected[i], (i, got, expected[i])
            assert res["object"] == ("chat.completion" if specs[i]["chat"] else "text_completion")
            assert res["usage"]["total_tokens"] == res["usage"]["prompt_tokens"] + res["usage"]["completion_tokens"]
        print(f"concurrency: {requests} concurrent streams and 5 lone requests equal attend generate "
              f"--kv-cache {kv_cache} ({steps} batched decode steps)")
    finally:
        assert srv.stop() == 0


def check_kv_bf16(args):
    check_concurrency(args, requests=12, kv_cache="bf16")


# A small template in the usual shape: it writes BOS itself (as Llama-2/3's and Gemma's do), roles
# must alternate (raise_exception otherwise), the generation prompt opens the assistant's turn.
TEMPLATE = """<s>{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}\
{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}\
{{ m['role'] | upper }}> {{ m['content'] | trim }}
{% endfor %}{% if add_generation_prompt %}ASSISTANT>{% endif %}"""


def check_chat_template(args):
    with tempfile.TemporaryDirectory() as folder:
        model = os.path.join(folder, os.path.basename(args.model))
        os.symlink(os.path.abspath(args.model), model)
        tokenizer = os.path.join(os.path.dirname(os.path.abspath(args.model)), "tok512.bin")
        os.symlink(tokenizer, os.path.join(folder, "tok512.bin"))
        with open(os.path.join(folder, "chat_template.jinja"), "w") as f:
            f.write(TEMPLATE)
        messages = [{"role": "user", "content": "Tell me about Lily. "}, {"role": "assistant", "content": "Lily had a cat."},
                    {"role": "user", "content": "And then?"}]
        with open(os.path.join(folder, "messages.json"), "w") as f:
            json.dump(messages, f)
        rendered = subprocess.run([args.attend, "chat-template", "--model", folder, "--messages",
                                   os.path.join(folder, "messages.json"), "--add-generation-prompt"],
                                  check=True, capture_output=True, timeout=60).stdout.decode("utf-8")
        assert rendered.startswith("<s>USER>") and rendered.endswith("ASSISTANT>"), rendered
        assert "USER> Tell me about Lily.\n" in rendered, rendered
        # transformers tokenizes a rendered template with add_special_tokens=False: the "<s>" it
        # writes is the one BOS. `attend generate` adds BOS to its prompt: give it the rest.
        text = rendered[len("<s>"):]
        want = expected_completion(args.attend, model, text, 30, 0, 1, 0, 0, [], {})
        srv = Server(args.attend, model)
        try:
            body = {"messages": messages, "max_tokens": 30, "temperature": 0}
            status, res, _ = srv.request("POST", "/v1/chat/completions", body)
            assert status == 200, res
            got = res["choices"][0]["message"]["content"]
            assert got == want, (got, want)
            # One BOS: as many prompt tokens as the completion of the text after "<s>" (BOS added).
            status, plain, _ = srv.request("POST", "/v1/completions", {"prompt": text, "max_tokens": 1})
            assert status == 200, plain
            prompt_tokens = res["usage"]["prompt_tokens"]
            assert prompt_tokens == plain["usage"]["prompt_tokens"], (res["usage"], plain["usage"])
            status, res, _ = srv.request("POST", "/v1/chat/completions",
                                         {"messages": messages[1:], "max_tokens": 5})
            assert status == 400 and "roles must alternate" in res["error"]["message"], (status, res)
        finally:
            assert srv.stop() == 0
        print(f"chat_template: the reply to a 3-message chat equals attend generate on the rendered prompt, one BOS "
              f"({len(want)} chars, {prompt_tokens} prompt tokens)")


def check_errors(args):
    srv = Server(args.attend, args.model, "--parallel", "1", "--queue", "1", "--max-body", "4096",
                 api_key="sekrit")
    try:
        def expect(status, path, body=None, param=None, raw=None, headers=None, method="POST"):
            got, res, hdrs = srv.request(method, path, body, raw=raw, headers=headers)
            assert got == status, f"{path} {body or raw!r}: HTTP {got}, wanted {status}: {res}"
            assert isinstance(res, dict) and set(res["error"]) == {"message", "type", "param", "code"}, res
            if param is not None:
                assert res["error"]["param"] == param, (body, res)
            return res, hdrs

        c = "/v1/completions"
        expect(400, c, raw=b"{not json")
        expect(400, c, raw=b"[1, 2]")
        expect(400, c, {"prompt": 5}, "prompt")
        expect(400, c, {}, "prompt")
        expect(400, c, {"prompt": "hi", "model": "gpt-4"}, "model")
        expect(400, c, {"prompt": "hi", "model": 3}, "model")
        expect(400, c, {"prompt": "hi", "max_tokens": 100000}, "max_tokens")
        expect(400, c, {"prompt": "hi", "max_tokens": "ten"}, "max_tokens")
        expect(400, c, {"prompt": "hi", "max_tokens": 0}, "max_tokens")
        expect(400, c, {"prompt": "hi", "temperature": -1}, "temperature")
        expect(400, c, {"prompt": "hi", "temperature": 2.5}, "temperature")
        expect(400, c, {"prompt": "hi", "temperature": "hot"}, "temperature")
        expect(400, c, {"prompt": "hi", "top_p": 0}, "top_p")
        expect(400, c, {"prompt": "hi", "top_p": 1.5}, "top_p")
        expect(400, c, {"prompt": "hi", "top_k": -3}, "top_k")
        expect(400, c, {"prompt": "hi", "logprobs": 21}, "logprobs")
        expect(400, c, {"prompt": "hi", "stream": "yes"}, "stream")
        expect(400, c, {"prompt": "hi", "n": 2}, "n")
        expect(400, c, {"prompt": "hi", "stop": ["a", "b", "c", "d", "e"]}, "stop")
        expect(400, c, {"prompt": "hi", "stop": 7}, "stop")
        expect(400, c, {"prompt": [1, 2, 99999]}, "prompt")
        expect(400, c, {"prompt": [1] * 600}, "prompt")
        ch = "/v1/chat/completions"
        expect(400, ch, {"messages": "hi"}, "messages")
        expect(400, ch, {"messages": []}, "messages")
        expect(400, ch, {"messages": [{"content": "hi"}]}, "messages[0].role")
        expect(400, ch, {"messages": [{"role": "user", "content": 5}]}, "messages[0].content")
        expect(400, ch, {"messages": [{"role": "user", "content": "hi"}], "top_p": -1}, "top_p")
        expect(400, "/v1/embeddings", {"input": 5}, "input")
        expect(400, "/v1/embeddings", {}, "input")
        expect(400, "/tokenize", {"content": 5}, "content")
        expect(400, "/detokenize", {"tokens": [-1]}, "tokens")
        expect(413, c, raw=json.dumps({"prompt": "x" * 10000}).encode())
        expect(404, "/v1/nothing", {"prompt": "hi"})
        # Without or with a wrong key: 401 on every route.
        for path, method in (("/health", "GET"), ("/v1/models", "GET"), (c, "POST")):
            expect(401, path, {"prompt": "hi"}, method=method, headers={"Content-Type": "application/json"})
            expect(401, path, {"prompt": "hi"}, method=method,
                   headers={"Content-Type": "application/json", "Authorization": "Bearer wrong"})

        # A full queue: one slot busy, one request queued, the next refused with Retry-After.
        started = threading.Event()
        long_body = {"prompt": "Once upon a time", "max_tokens": 400, "temperature": 1.0, "seed": 7}

        def hold():
            srv.stream(c, long_body, on_event=lambda e, res: started.set())

        holders = [threading.Thread(target=hold) for _ in range(2)]
        holders[0].start()
        assert started.wait(60)
        holders[1].start()
        deadline = time.time() + 30
        while srv.health()["queued"] < 1 and time.time() < deadline:
            time.sleep(0.005)
        refused = False
        if srv.health()["queued"] >= 1:
            got, res, hdrs = srv.request("POST", c, {"prompt": "hi", "max_tokens": 4})
            refused = got == 503 and hdrs.get("Retry-After") == "1" and res["error"]["code"] == "server_busy"
            assert refused or got == 200, (got, res, hdrs)
        for t in holders:
            t.join(120)
        assert refused, "a full queue did not answer 503 with Retry-After (the queue never filled)"

        # The other endpoints, well-formed.
        status, models, _ = srv.request("GET", "/v1/models")
        assert status == 200 and models["object"] == "list" and models["data"][0]["object"] == "model"
        status, tok, _ = srv.request("POST", "/tokenize", {"content": "Once upon a time"})
        assert status == 200 and all(isinstance(t, int) for t in tok["tokens"]) and tok["tokens"], tok
        status, detok, _ = srv.request("POST", "/detokenize", {"tokens": tok["tokens"]})
        assert status == 200 and detok["content"].strip() == "Once upon a time", detok
        status, emb, _ = srv.request("POST", "/v1/embeddings", {"input": ["Once upon a time", "The dog"]})
        assert status == 200 and len(emb["data"]) == 2 and len(emb["data"][0]["embedding"]) > 0, emb
        assert emb["data"][0]["embedding"] != emb["data"][1]["embedding"]
        status, lp, _ = srv.request("POST", c, {"prompt": "The little dog", "max_tokens": 5, "temperature": 0,
                                                "logprobs": 3})
        assert status == 200, lp
        logprobs = lp["choices"][0]["logprobs"]
        assert len(logprobs["tokens"]) == 5 and all(len(t) == 3 for t in logprobs["top_logprobs"]), logprobs
        # Greedy: every chosen token is the most probable one.
        assert all(abs(max(t.values()) - x) < 1e-9 for t, x in zip(logprobs["top_logprobs"], logprobs["token_logprobs"]))
        print("errors: 400s, 401s, 413, 404 and 503 answered with OpenAI's error object; endpoints well-formed")
    finally:
        assert srv.stop() == 0


def check_disconnect(args):
    srv = Server(args.attend, args.model, "--parallel", "2")
    try:
        body = {"prompt": "Once upon a time", "max_tokens": 480, "temperature": 1.0, "top_k": 0, "seed": 3}
        # The reference: this request, run to the end, gives hundreds of tokens.
        status, full, _ = srv.request("POST", "/v1/completions", body)
        assert status == 200 and full["usage"]["completion_tokens"] >= 300, full["usage"]
        before = srv.health()
        conn = srv.connection()
        conn.request("POST", "/v1/completions", body=json.dumps(dict(body, stream=True)).encode(),
                     headers=srv.headers())
        res = conn.getresponse()
        while not res.fp.readline().startswith(b"data: "):
            pass
        # Hang up after the first chunk: close the socket under the response.
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            h = srv.health()
            if h["slots_processing"] == 0:
                break
            time.sleep(0.002)
        after = srv.health()
        assert after["slots_processing"] == 0, after
        assert after["requests_cancelled"] == before["requests_cancelled"] + 1, (before, after)
        # And the server still answers.
        status, res2, _ = srv.request("POST", "/v1/completions", dict(body, max_tokens=4))
        assert status == 200, res2
        print(f"disconnect: the slot was freed and the request counted cancelled ({after})")
    finally:
        assert srv.stop() == 0


def check_memory(args):
    srv = Server(args.attend, args.model, "--parallel", "4")
    errors = []  # a thread's exception does not reach the test by itself

    try:
        def burst(n, thread_id):
            try:
                send(n)
            except Exception as e:  # noqa: BLE001 — reported below with its thread
                errors.append(f"client {thread_id}: {e!r}")

        def send(n):
            conn = srv.connection()
            for i in range(n):
                stream = i % 2 == 1
                body = {"prompt": PROMPTS[i % len(PROMPTS)], "max_tokens": 6, "temperature": 0.8, "seed": i,
                        "stream": stream}
                if i % 5 == 0:
                    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 6, "seed": i,
                            "stream": stream}
                path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
                conn.request("POST", path, body=json.dumps(body).encode(), headers=srv.headers())
                r = conn.getresponse()
                data = r.read()
                assert r.status == 200, data

        def run(total):
            threads = [threading.Thread(target=burst, args=(total // 4, t)) for t in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(600)
                assert not t.is_alive(), "a client thread did not finish in 600 s"
            assert not errors, errors

        run(100)
        warm = srv.rss_kb()
        run(900)
        after = srv.rss_kb()
        served = srv.health()["requests_served"]
        assert served >= 1000, served
        growth = after - warm
        print(f"memory: RSS {warm} kB after 100 requests, {after} kB after {served} (growth {growth} kB, "
              f"bound {args.rss_bound_kb} kB)")
        assert growth <= args.rss_bound_kb, f"RSS grew by {growth} kB over 900 requests"
    finally:
        assert srv.stop() == 0


def check_signals(args):
    srv = Server(args.attend, args.model, "--parallel", "2")
    result = {}

    def long_stream():
        result["events"], result["done"] = srv.stream(
            "/v1/completions", {"prompt": "Once upon a time", "max_tokens": 480, "temperature": 1.0, "seed": 3},
            on_event=lambda e, res: result.setdefault("first", time.time()) and None)

    t = threading.Thread(target=long_stream)
    t.start()
    deadline = time.time() + 30
    while "first" not in result and time.time() < deadline:
        time.sleep(0.001)
    code = srv.stop()
    t.join(30)
    assert code == 0, f"exit code {code} after SIGTERM"
    assert result.get("done") is not None, "the stream did not end"
    print(f"signals: SIGTERM → exit 0; the in-flight stream ended ({len(result['events'])} events, "
          f"[DONE]={result['done']})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--attend", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--check", required=True, choices=["concurrency", "kv_bf16", "errors", "disconnect", "memory", "signals", "chat_template"])
    p.add_argument("--rss-bound-kb", type=int, default=16384)
    args = p.parse_args()
    globals()["check_" + args.check](args)


if __name__ == "__main__":
    main()
