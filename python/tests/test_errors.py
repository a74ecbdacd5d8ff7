"""C++ errors become attend.Error (a ValueError) or attend.FileError (also an OSError), with
the CLI's one-line message."""
import numpy as np
import pytest

import attend
from conftest import run_cli


def cli_error(cli, *args) -> str:
    r = run_cli(cli, *args)
    assert r.returncode != 0
    line = r.stderr.decode().strip().splitlines()[-1]
    assert line.startswith("attend: error: ")
    return line[len("attend: error: "):]


def test_class_hierarchy():
    assert issubclass(attend.Error, ValueError)
    assert issubclass(attend.FileError, attend.Error) and issubclass(attend.FileError, OSError)


def test_missing_model_is_a_file_error_with_the_clis_message(cli, tmp_path):
    missing = str(tmp_path / "no_such_model.bin")
    with pytest.raises(attend.FileError) as e:
        attend.load(missing)
    assert isinstance(e.value, OSError) and isinstance(e.value, ValueError)
    assert str(e.value) == cli_error(cli, "generate", "--model", missing, "--prompt", "x")
    assert "\n" not in str(e.value) and missing in str(e.value)


def test_missing_tokenizer_is_a_file_error(cli, tmp_path):
    missing = str(tmp_path / "nothing_here.json")
    with pytest.raises(OSError) as e:
        attend.Tokenizer(missing)
    assert isinstance(e.value, attend.FileError)
    assert str(e.value) == cli_error(cli, "tokenize", "--tokenizer", missing, "--text", "x")


def test_corrupt_file_is_a_value_error_not_os_error(cli, tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"\x07\x00\x00\x00" * 3)  # a llama2.c header cut short
    with pytest.raises(attend.Error) as e:
        attend.load(str(bad))
    assert not isinstance(e.value, OSError)
    assert str(e.value) == cli_error(cli, "generate", "--model", str(bad), "--prompt", "x")


def test_bad_arguments(model):
    with pytest.raises(attend.Error, match="top_p"):
        model.generate("x", top_p=0)
    with pytest.raises(attend.Error, match="max_tokens"):
        model.generate("x", max_tokens=-1)
    with pytest.raises(TypeError):
        model.generate(42)
    with pytest.raises(attend.Error, match="outside the vocabulary"):
        model.logits([1, 2, 100000])
    with pytest.raises(TypeError):
        model.logits([1.5, 2])
    with pytest.raises(attend.Error, match="encoder_decoder|formats"):
        attend.viz(model, "hi", "/nonexistent/out", formats=["gif"])


def test_train_option_errors_name_the_key(tmp_path):
    with pytest.raises(attend.Error, match="lr"):
        attend.train(data="x.txt", out=str(tmp_path / "run"), lr=-1.0)
    with pytest.raises(attend.Error, match="no_such_option"):
        attend.train({"no_such_option": 1}, data="x.txt", out=str(tmp_path / "run"))


def test_errors_leave_the_module_usable(model):
    for _ in range(3):
        with pytest.raises(attend.Error):
            attend.attention(np.zeros((1, 1, 2, 2), np.float64), np.zeros((1, 1, 2, 2), np.float32),
                             np.zeros((1, 1, 2, 2), np.float32))
    assert model.generate("Once", max_tokens=3, temperature=0)
