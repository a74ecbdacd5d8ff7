"""Thread count for PyTorch in the side-by-side benchmarks, BLAS included.

torch.set_num_threads sets torch's OpenMP pool, but Debian's python3-torch does its matrix
products in OpenBLAS (libblas.so.3 -> openblas-pthread), whose own thread pool starts with
one thread per core and ignores torch's setting: "torch, 1 thread" ran its GEMMs on every
core (measured: torch.set_num_threads(1), 512x768 @ 768x768, 2.0 CPU-seconds per second).
set_threads(n) sets both, and says when it cannot, so a comparison is never silently unfair.
"""
import ctypes
import sys

import torch


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    try:
        openblas = ctypes.CDLL("libopenblas.so.0")  # the copy torch already loaded
        openblas.openblas_set_num_threads(n)
        got = openblas.openblas_get_num_threads()
    except (OSError, AttributeError) as e:
        print(f"torch_threads: cannot set OpenBLAS's thread count ({e}); BLAS may use more than {n}",
              file=sys.stderr)
        return
    if got != n:
        print(f"torch_threads: OpenBLAS runs {got} threads, asked for {n}", file=sys.stderr)
