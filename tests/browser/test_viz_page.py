#!/usr/bin/python3
"""The attention page of `attend viz`, opened in headless Chromium and used as a person would.

    test_viz_page.py --attend build/attend --attend-tests build/tests/attend_tests --out build/browser

1. attend_tests (VizBrowser.SavesModelsForThePageTest) saves two small models with their
   tokenizers: a decoder and an encoder-decoder; `attend viz` writes their pages and PNGs.
2. Each page is opened in headless Chromium (cdp.py: the DevTools protocol over a pipe).
   Checked, with real mouse events where a person would use the mouse:
     - the page loads with no console errors, no uncaught exceptions, no failed requests;
     - it drew something: lines in the head view, a heatmap in the matrix view, labels;
     - the ▶ button moves to the next layer and the drawing changes (lines and pixels);
     - a head chip shows that head alone: every line is that head's, the drawing changes;
     - clicking a query token pins it: it is highlighted, only its lines remain, their
       opacities are its weights from the embedded data, and the matrix gets an outlined row;
     - hovering a matrix cell shows a tooltip with that cell's weight; clicking pins its row;
     - seq2seq: switching the attention kind to the encoder's self-attention changes the
       columns' captions and tokens;
     - the heatmap PNGs decode in the browser at the size their header says.
3. A screenshot of each page goes to <out>/viz_page_<name>.png.

Fails (exit 1), never skips, when chromium is missing: the README's setup installs it.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

FAILURES = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        FAILURES.append(what)
    return condition


def run(command, env=None):
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"FAIL  {command[0]} exited with {done.returncode}")
    return done.stdout


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path + " is not a PNG"
    return struct.unpack(">II", head[16:24])


# JavaScript helpers evaluated in the page.
SNAPSHOT = """(() => {
  const lines = [...document.querySelectorAll('#edges line')].map(l =>
      [+l.dataset.q, +l.dataset.k, l.dataset.h, +l.getAttribute('stroke-opacity')]);
  const c = document.getElementById('matrix');
  const b = document.body.dataset;
  return {lines: lines, matrix: c.toDataURL(), width: c.width, height: c.height,
          kind: b.kind, layer: b.layer, head: b.head, focus: b.focus};
})()"""

CENTRE = """((selector) => {
  const e = document.querySelector(selector);
  if (!e) return null;
  e.scrollIntoView({block: 'center', inline: 'center'});
  const r = e.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
})(%s)"""

# Pixels of the matrix canvas close to the focus colour (#ff5a1f): the outline of a pinned row.
FOCUS_PIXELS = """(() => {
  const c = document.getElementById('matrix'), g = c.getContext('2d');
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4)
    if (Math.abs(d[i] - 255) < 30 && Math.abs(d[i + 1] - 90) < 40 && Math.abs(d[i + 2] - 31) < 40) ++n;
  return n;
})()"""


def centre(page, selector):
    at = page.evaluate(CENTRE % json.dumps(selector))
    if at is None:
        raise cdp.CdpError("nothing on the page matches " + selector)
    return at


def click(page, selector):
    x, y = centre(page, selector)
    page.click(x, y)


def check_page(browser, html, name, out_dir, seq2seq):
    print(f"\n--- {name}: {html}", flush=True)
    page = browser.new_page(1400, 1000)
    page.goto("file://" + os.path.abspath(html))
    data = page.evaluate("window.attendViz.data")
    first = data["maps"][0]
    check(page.evaluate("document.querySelector('h1').textContent").startswith("Attention"), "the page has its title")

    s0 = page.evaluate(SNAPSHOT)
    check(s0["kind"] == first["kind"] and s0["layer"] == "0" and s0["head"] == "all",
          f"opens on {first['kind']}, layer 0, all heads (got {s0['kind']}, {s0['layer']}, {s0['head']})")
    check(len(s0["lines"]) > 0, f"the head view draws lines ({len(s0['lines'])})")
    heads_drawn = {line[2] for line in s0["lines"]}
    check(len(heads_drawn) == first["n_heads"], f"all {first['n_heads']} heads have lines (got {sorted(heads_drawn)})")
    check(s0["width"] > 200 and s0["height"] > 100, f"the matrix canvas is drawn ({s0['width']}x{s0['height']})")
    tokens = page.evaluate("[...document.querySelectorAll('.token.q text')].map(t => t.textContent)")
    check(len(tokens) == len(first["query_tokens"]), f"every query token is listed ({len(tokens)})")

    # Next layer with the ▶ button.
    click(page, "#next-layer")
    s1 = page.evaluate(SNAPSHOT)
    check(s1["layer"] == "1", f"▶ moves to layer 1 (data-layer={s1['layer']})")
    check(s1["lines"] != s0["lines"], "the head view's lines change with the layer")
    check(s1["matrix"] != s0["matrix"], "the matrix view's pixels change with the layer")
    check(page.evaluate("document.getElementById('layer').value") == "1", "the layer list follows")

    # One head, by its chip.
    click(page, "#chips .chip[data-head='2']")
    s2 = page.evaluate(SNAPSHOT)
    check(s2["head"] == "2", f"the chip selects head 2 (data-head={s2['head']})")
    check(len(s2["lines"]) > 0 and all(line[2] == "2" for line in s2["lines"]), "only head 2's lines are drawn")
    check(s2["matrix"] != s1["matrix"], "the matrix view changes with the head")

    # Pin a query token by clicking it; its lines and only its lines, weighted by the data.
    q = 2
    focus_before = page.evaluate(FOCUS_PIXELS)
    click(page, f".token.q[data-index='{q}']")
    page.move(5, 5)  # away: the hover preview ends, the pin stays
    s3 = page.evaluate(SNAPSHOT)
    check(s3["focus"] == f"q{q}", f"clicking query token {q} pins it (data-focus={s3['focus']})")
    check(page.evaluate(f"document.querySelector(\".token.q[data-index='{q}']\").classList.contains('focus')"),
          "the pinned token is highlighted")
    weights = data["maps"][0]["weights"][1][2][q]  # layer 1, head 2, row q
    expected = {k for k, w in enumerate(weights) if w >= 0.005}
    check(all(line[0] == q for line in s3["lines"]) and {line[1] for line in s3["lines"]} == expected,
          f"only token {q}'s lines remain, to the keys it attends to ({sorted(expected)})")
    worst = max((abs(line[3] - weights[line[1]]) for line in s3["lines"]), default=1.0)
    check(worst < 1e-3, f"line opacity = attention weight (worst difference {worst:.1e})")
    focus_after = page.evaluate(FOCUS_PIXELS)
    check(focus_before == 0 and focus_after > 4 * len(weights),
          f"the matrix outlines the pinned row ({focus_before} -> {focus_after} focus-coloured pixels)")
    details = page.evaluate("document.getElementById('details').textContent")
    check("attends to" in details, f"the details line reads: {details[:80]!r}")

    # Hover a matrix cell: a tooltip with its weight. Then click it to pin that row.
    qq, kk = 3, 0
    at = page.evaluate("""(() => { const l = window.attendViz.layout(), c = document.getElementById('matrix');
        c.scrollIntoView({block: 'center'}); const r = c.getBoundingClientRect();
        return [r.left + l.tiles[0].x + (%d + 0.5) * l.cell, r.top + l.tiles[0].y + (%d + 0.5) * l.cell]; })()""" % (kk, qq))
    page.move(at[0], at[1])
    tip = page.evaluate("(() => { const t = document.getElementById('tooltip');"
                        " return [getComputedStyle(t).display, t.textContent]; })()")
    want = data["maps"][0]["weights"][1][2][qq][kk]
    masked = first["causal"] and kk > qq + len(first["key_tokens"]) - len(first["query_tokens"])
    check(tip[0] == "block" and ("causal mask" in tip[1] if masked else f"{want:.3f}" in tip[1]),
          f"hovering cell ({qq}, {kk}) shows its weight {want:.3f}: {tip[1]!r}")
    page.click(at[0], at[1])
    check(page.evaluate("document.body.dataset.focus") == f"q{qq}", "clicking a matrix cell pins its row")

    # Stretching the colour scale to the largest weight redraws the matrix (unless that is
    # already 1, as in a causal map's first row), never the lines.
    largest = max(max(row) for row in data["maps"][0]["weights"][1][2])
    before = page.evaluate(SNAPSHOT)
    click(page, "#stretch")
    after = page.evaluate(SNAPSHOT)
    check((after["matrix"] != before["matrix"]) == (largest < 0.999) and after["lines"] == before["lines"],
          f"the stretch box recolours the matrix exactly when its largest weight ({largest:.3f}) is below 1")
    click(page, "#stretch")

    if seq2seq:
        # The encoder's own self-attention, through the kind list (a native <select> popup is
        # not mouse-drivable headless: set it and fire `change`, as the browser does on a pick).
        index = next(i for i, m in enumerate(data["maps"]) if m["kind"] == "encoder_self")
        page.evaluate("(() => { const k = document.getElementById('kind'); k.value = '%d';"
                      " k.dispatchEvent(new Event('change')); })()" % index)
        s4 = page.evaluate(SNAPSHOT)
        heads = page.evaluate("[...document.querySelectorAll('.colhead')].map(t => t.textContent)")
        check(s4["kind"] == "encoder_self" and heads == ["source (queries)", "source (keys)"],
              f"the kind list switches to the encoder's self-attention ({s4['kind']}, {heads})")
        check(s4["matrix"] != s3["matrix"] and s4["focus"] == "", "a new kind redraws and drops the pin")
        page.evaluate("(() => { const k = document.getElementById('kind'); k.value = '0';"
                      " k.dispatchEvent(new Event('change')); })()")

    # The heatmaps decode in the browser too, at the size their PNG header gives.
    folder = os.path.dirname(os.path.abspath(html))
    for png in sorted(f for f in os.listdir(folder) if f.endswith(".png"))[:4]:
        size = page.evaluate("""new Promise((ok, bad) => { const i = new Image();
            i.onload = () => ok([i.naturalWidth, i.naturalHeight]); i.onerror = () => bad(new Error('no decode'));
            i.src = %s; })""" % json.dumps(png))
        check(tuple(size) == png_size(os.path.join(folder, png)), f"{png} decodes in Chromium at {size[0]}x{size[1]}")

    # The screenshot shows what the page is for: every head in its colour, one token pinned.
    click(page, "#chips .chip[data-head='2']")  # a second click on the chip returns to all heads
    check(page.evaluate("document.body.dataset.head") == "all", "clicking the chip again shows all heads")
    click(page, ".token.q[data-index='1']")
    page.move(5, 5)
    check(page.evaluate("document.body.dataset.focus") == "q1", "query token 1 pinned for the screenshot")
    page.evaluate("window.scrollTo(0, 0)")
    shot = page.screenshot()
    shot_path = os.path.join(out_dir, f"viz_page_{name}.png")
    with open(shot_path, "wb") as f:
        f.write(shot)
    with open(shot_path, "rb"):
        w, h = png_size(shot_path)
    check(w >= 1000 and h >= 600, f"screenshot {shot_path} ({w}x{h})")

    browser.pump(0.5)  # let late console messages arrive
    errors = page.console_errors()
    check(not errors, "no console errors" + ("" if not errors else ": " + "; ".join(errors)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attend", required=True, help="the attend binary")
    parser.add_argument("--attend-tests", required=True, help="the attend_tests binary (saves the models)")
    parser.add_argument("--out", required=True, help="folder for the pages and screenshots")
    args = parser.parse_args()

    chromium = cdp.find_chromium()
    if not chromium:
        print("FAIL  chromium is not installed: run scripts/setup.sh (Debian package `chromium`)")
        return 1
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    models = os.path.join(args.out, "models")
    env = dict(os.environ, ATTEND_VIZ_MODELS_DIR=models)
    run([args.attend_tests, "--gtest_filter=VizBrowser.SavesModelsForThePageTest"], env)

    pages = {
        "decoder": ["--model", os.path.join(models, "decoder"), "--text", "the cat sat on the mat"],
        "seq2seq": ["--model", os.path.join(models, "seq2seq"), "--source", "le chat dort", "--target", "the cat sleeps"],
    }
    with cdp.Browser.launch(chromium, log_path=os.path.join(args.out, "chromium.log")) as browser:
        for name, model_args in pages.items():
            out = os.path.join(args.out, name)
            run([args.attend, "viz", *model_args, "--out", out])
            check_page(browser, os.path.join(out, "attention.html"), name, args.out, name == "seq2seq")

    print()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed:\n  " + "\n  ".join(FAILURES))
        return 1
    print("all browser checks passed; screenshots in " + args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
