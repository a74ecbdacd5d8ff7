"""attend: transformers from first principles, in C++, from Python.

    >>> import attend
    >>> model = attend.load("stories260K/stories260K.bin")     # tokenizer found beside it
    >>> print(model.generate("Once upon a time", max_tokens=40, temperature=0))
    >>> tok = attend.Tokenizer("gpt2_folder"); tok.encode("Hello world")
    >>> out = attend.attention(q, k, v, causal=True)            # NumPy float32 (B, H, T, D)
    >>> attend.train(data="input.txt", out="run", steps=200, on_step=lambda s, loss, lr: None)

Everything runs in attend's C++ library with the GIL released (threads run at once);
C++ errors raise attend.Error (a ValueError), or attend.FileError (also an OSError) for a
file that cannot be found, opened, read or written, with attend's one-line message.
"""
from ._attend import (  # noqa: F401  (re-exported)
    Error,
    FileError,
    Model,
    TextIterator,
    Tokenizer,
    __version__,
    attention,
    load,
    train,
    viz,
)

__all__ = [
    "Error",
    "FileError",
    "Model",
    "TextIterator",
    "Tokenizer",
    "__version__",
    "attention",
    "load",
    "train",
    "viz",
]
