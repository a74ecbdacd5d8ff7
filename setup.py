"""Builds attend._attend with this repository's CMake project (see pyproject.toml).

Environment: ATTEND_CMAKE_ARGS adds arguments to the configure step (e.g. -DCMAKE_CXX_COMPILER_LAUNCHER=ccache);
ATTEND_BUILD_JOBS sets the parallel build (default: the CPU count); ATTEND_BUILD_DIR names an
already configured CMake build folder (e.g. build/) to build the module in instead of a fresh
one (no reconfiguring: its options stay as they are).
"""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        reuse = os.environ.get("ATTEND_BUILD_DIR")
        build = Path(reuse).resolve() if reuse else Path(self.build_temp).resolve() / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
            "-DATTEND_BUILD_TESTS=OFF", "-DATTEND_BUILD_BENCH=OFF", "-DATTEND_BUILD_PYTHON=ON",
            f"-DATTEND_PYTHON={sys.executable}",
            *shlex.split(os.environ.get("ATTEND_CMAKE_ARGS", "")),
        ]
        if not reuse:
            subprocess.run(configure, check=True)
        jobs = os.environ.get("ATTEND_BUILD_JOBS", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build), "--target", "attend_python", "-j", jobs], check=True)
        module = next((build / "python" / "attend").glob("_attend*.so"), None)
        if module is None:
            raise RuntimeError(f"{build}: CMake built no attend/_attend module (are python3-dev and pybind11-dev installed?)")
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, target)
        # libattend beside the module: its RUNPATH starts with $ORIGIN.
        library = next(p for p in sorted(build.glob("libattend.so.*")) if not p.is_symlink())
        soname = subprocess.run(["objdump", "-p", str(library)], capture_output=True, text=True, check=True).stdout
        name = next(line.split()[1] for line in soname.splitlines() if line.strip().startswith("SONAME"))
        shutil.copyfile(library, target.parent / name)


setup(
    packages=["attend"],
    package_dir={"": "python"},
    package_data={"attend": ["__init__.pyi", "py.typed", "libattend.so.*"]},
    ext_modules=[Extension("attend._attend", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": "build-python"}, "egg_info": {"egg_base": "build-python"}},
    zip_safe=False,
)
