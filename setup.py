"""Builds the one C++ extension, envs._C, from csrc/*.cpp (metadata lives in pyproject.toml)."""
from glob import glob

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup

ext = Pybind11Extension(
    "envs._C",
    sorted(glob("csrc/*.cpp")),
    include_dirs=["csrc"],
    depends=sorted(glob("csrc/*.hpp")),  # rebuild when a header changes
    cxx_std=17,
    extra_compile_args=["-O3"],
)
setup(ext_modules=[ext])
