#!/usr/bin/python3
"""Makes the README's two pictures from the project's own output (nothing drawn by hand):

    /usr/bin/python3 scripts/readme_images.py [--attend build/attend] [--demo attend-demo] [--out docs/images]

1. `attend demo --out DEMO` (it reuses DEMO/model when it is there, so this is quick after a
   first run) writes the cross-attention page and heatmaps of one held-out translation.
2. The page is opened in headless Chromium (tests/browser/cdp.py), one source token is
   pinned as a person would click it, and the screenshot is saved as OUT/demo_page.png.
3. The head-averaged cross-attention heatmap of the last decoder layer is copied to
   OUT/demo_cross_attention.png.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "browser"))
import cdp  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attend", default=os.path.join(ROOT, "build", "attend"))
    ap.add_argument("--demo", default=os.path.join(ROOT, "attend-demo"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "images"))
    args = ap.parse_args()

    subprocess.run([args.attend, "demo", "--out", args.demo], check=True, stdout=subprocess.DEVNULL)
    folder = os.path.join(args.demo, "attention")
    pages = glob.glob(os.path.join(folder, "*.html"))
    if len(pages) != 1:
        sys.exit(f"readme_images: expected one page in {folder}, found {pages}")
    os.makedirs(args.out, exist_ok=True)

    with cdp.Browser.launch() as browser:
        page = browser.new_page(1400, 900)
        page.goto("file://" + os.path.abspath(pages[0]))
        box = page.evaluate("(() => { const r = document.querySelector(\".token.q[data-index='4']\")"
                            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        page.click(*box)
        page.move(5, 5)
        errors = page.console_errors()
        if errors:
            sys.exit(f"readme_images: the page logged errors: {errors}")
        with open(os.path.join(args.out, "demo_page.png"), "wb") as f:
            f.write(page.screenshot())

    cross = sorted(p for p in glob.glob(os.path.join(folder, "*.png")) if "cross" in os.path.basename(p)
                   and "mean" in os.path.basename(p))
    if not cross:
        sys.exit(f"readme_images: no head-averaged cross-attention PNG in {folder}")
    shutil.copyfile(cross[-1], os.path.join(args.out, "demo_cross_attention.png"))
    print(f"wrote {args.out}/demo_page.png and {args.out}/demo_cross_attention.png (from {cross[-1]})")


if __name__ == "__main__":
    main()
