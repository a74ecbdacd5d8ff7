"""examples/python/quickstart.py runs as documented (it is the README's Python walk-through)."""
import os
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "python" / "quickstart.py"


def test_quickstart_runs(shared):
    r = subprocess.run([sys.executable, str(QUICKSTART), str(shared)], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert "perplexity:" in r.stdout and "steps, loss" in r.stdout and "heatmaps" in r.stdout
