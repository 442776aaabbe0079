"""Builds the one C++ extension, envs._C, from csrc/*.cpp (metadata lives in pyproject.toml).

VLDAC_SANITIZE=1 builds it with AddressSanitizer + UndefinedBehaviorSanitizer (any report aborts); load
it with the ASan runtime preloaded, as .ci/run does:
LD_PRELOAD=$(g++ -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 python -m pytest ...
"""
import os
from glob import glob

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup

sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"] if os.environ.get("VLDAC_SANITIZE") == "1" else []
ext = Pybind11Extension(
    "envs._C",
    sorted(glob("csrc/*.cpp")),
    include_dirs=["csrc"],
    depends=sorted(glob("csrc/*.hpp")),  # rebuild when a header changes
    cxx_std=17,
    extra_compile_args=["-O1", "-g", "-fno-omit-frame-pointer", *sanitize] if sanitize else ["-O3"],
    extra_link_args=sanitize,
)
setup(ext_modules=[ext])
