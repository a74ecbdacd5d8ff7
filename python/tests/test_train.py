"""attend.train with a per-step callback, and attend.viz."""
import json

import pytest

import attend

SMALL = dict(layers=1, heads=2, dim=32, block_size=32, batch_size=4, eval_every=5, eval_batches=2,
             warmup=2, quiet=True, seed=7)


def test_train_calls_back_each_step_and_stops(shared, tmp_path):
    out = tmp_path / "run"
    seen = []

    def on_step(step, loss, lr):
        seen.append((step, loss, lr))
        return step < 7  # False at step 7: stop there, with a checkpoint

    result = attend.train({"data": str(shared / "tinyshakespeare" / "input.txt"), **SMALL}, out=str(out), steps=50,
                          on_step=on_step)
    assert [s for s, _, _ in seen] == list(range(1, 8))
    assert result["steps_done"] == 7
    assert [loss for _, loss, _ in seen] == pytest.approx(result["train_losses"])
    assert all(lr > 0 for _, _, lr in seen)
    assert (out / "checkpoint.safetensors").exists()
    assert [s for s, _ in result["val_losses"]] == [5]

    # The run continues where it stopped, and its model loads and generates.
    more = attend.train(data=str(shared / "tinyshakespeare" / "input.txt"), out=str(out), steps=10, resume=True,
                        **SMALL)
    assert more["steps_done"] == 10 and len(more["train_losses"]) == 3
    model = attend.load(str(out))
    assert model.config["n_layers"] == 1 and model.config["d_model"] == 32
    text = model.generate("ROMEO:", max_tokens=20, temperature=0)
    assert isinstance(text, str)


def test_callback_exception_ends_training(shared, tmp_path):
    def on_step(step, loss, lr):
        raise RuntimeError("stop from Python")

    with pytest.raises(RuntimeError, match="stop from Python"):
        attend.train(data=str(shared / "tinyshakespeare" / "input.txt"), out=str(tmp_path / "run"), steps=5,
                     on_step=on_step, **SMALL)


def test_interrupt_stops_training(shared, tmp_path):
    import _thread
    import threading
    import time

    steps = []
    timer = threading.Timer(1.0, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        attend.train(data=str(shared / "tinyshakespeare" / "input.txt"), out=str(tmp_path / "run"), steps=1_000_000,
                     on_step=lambda step, loss, lr: steps.append(step), **SMALL)
    timer.cancel()
    assert time.monotonic() - start < 60 and len(steps) < 1_000_000  # setup may outlast the timer


def test_viz_writes_the_report(model, tmp_path):
    files = attend.viz(model, "Once upon a time", str(tmp_path / "viz"), formats=["png", "html", "json"])
    assert files["html"] and files["json"] and len(files["png"]) == 2 * model.config["n_layers"]
    data = json.loads(open(files["json"]).read())
    assert data
