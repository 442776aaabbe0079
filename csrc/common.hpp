// Shared helpers for the bindings: strict array checks that turn bad input into ValueError.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace vldac {
namespace py = pybind11;

// Raises ValueError unless `a` is a C-contiguous array of dtype T with exactly `shape`.
template <typename T>
void check_array(const py::array& a, const char* name, const std::vector<py::ssize_t>& shape) {
    if (!a.dtype().is(py::dtype::of<T>()))
        throw py::value_error(std::string(name) + ": expected dtype " +
                              std::string(py::str(py::dtype::of<T>())) + ", got " +
                              std::string(py::str(a.dtype())));
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + ": array must be C-contiguous");
    bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
    for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
    if (!ok) {
        std::string want = "(", got = "(";
        for (size_t i = 0; i < shape.size(); ++i) want += std::to_string(shape[i]) + (i + 1 < shape.size() ? ", " : "");
        for (py::ssize_t i = 0; i < a.ndim(); ++i) got += std::to_string(a.shape(i)) + (i + 1 < a.ndim() ? ", " : "");
        throw py::value_error(std::string(name) + ": expected shape " + want + "), got " + got + ")");
    }
}

}  // namespace vldac
