// The one pybind11 module, envs._C: thin, validating wrappers over the kernels in the headers.
#include "common.hpp"
#include "gae.hpp"

void bind_gymcards(pybind11::module_& m);  // csrc/gymcards_bind.cpp

namespace py = pybind11;
using namespace vldac;

void bind_formula(py::module_& m);  // formula_bind.cpp
void bind_grid(py::module_& m);  // grid_bind.cpp

static py::tuple gae_binding(const py::array& rewards, const py::array& values, const py::array& terminated,
                             const py::array& truncated, const py::array& next_value, float gamma,
                             float gae_lambda, const py::object& final_values) {
    if (rewards.ndim() != 2) throw py::value_error("rewards: expected a 2-D (T, N) array");
    const py::ssize_t T = rewards.shape(0), N = rewards.shape(1);
    check_array<float>(rewards, "rewards", {T, N});
    check_array<float>(values, "values", {T, N});
    check_array<bool>(terminated, "terminated", {T, N});
    check_array<bool>(truncated, "truncated", {T, N});
    check_array<float>(next_value, "next_value", {N});
    const float* fv = nullptr;
    py::array fva;
    if (!final_values.is_none()) {
        fva = final_values.cast<py::array>();
        check_array<float>(fva, "final_values", {T, N});
        fv = static_cast<const float*>(fva.data());
    }
    py::array_t<float> adv({T, N}), ret({T, N});
    const float* r = static_cast<const float*>(rewards.data());
    const float* v = static_cast<const float*>(values.data());
    const bool* te = static_cast<const bool*>(terminated.data());
    const bool* tr = static_cast<const bool*>(truncated.data());
    const float* nv = static_cast<const float*>(next_value.data());
    float* a = adv.mutable_data();
    float* R = ret.mutable_data();
    {
        py::gil_scoped_release release;
        gae(r, v, te, tr, nv, fv, T, N, gamma, gae_lambda, a, R);
    }
    return py::make_tuple(adv, ret);
}

PYBIND11_MODULE(_C, m) {
    m.doc() = "vldac C++ kernels: GAE and batched environments";
    m.def("gae", &gae_binding, py::arg("rewards"), py::arg("values"), py::arg("terminated"),
          py::arg("truncated"), py::arg("next_value"), py::arg("gamma"), py::arg("gae_lambda"),
          py::arg("final_values") = py::none(),
          "Step-level GAE over time-major (T, N) float32 arrays; returns (advantages, returns).");
    bind_gymcards(m);
    bind_formula(m);
    bind_grid(m);
}
