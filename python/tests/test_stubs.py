"""attend/__init__.pyi covers the module: every public name and member has a stub, and a
docstring for help()."""
import ast
from pathlib import Path

import attend

STUB = Path(attend.__file__).with_name("__init__.pyi")


def test_stubs_cover_the_module():
    tree = ast.parse(STUB.read_text())
    stubbed = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    public = {n for n in dir(attend._attend) if not n.startswith("_")}
    assert public == set(stubbed), (public ^ set(stubbed))
    for name in ("Model", "Tokenizer", "TextIterator"):
        members = {n for n in dir(getattr(attend, name)) if not n.startswith("_")}
        in_stub = {n.name for n in stubbed[name].body if isinstance(n, ast.FunctionDef)}
        assert members <= in_stub, members - in_stub


def test_docstrings():
    assert "attend" in attend.__doc__
    for fn in (attend.load, attend.attention, attend.train, attend.viz, attend.Model.generate, attend.Model.stream,
               attend.Tokenizer.encode, attend.Tokenizer, attend.Model):
        assert fn.__doc__ and len(fn.__doc__) > 40, fn
