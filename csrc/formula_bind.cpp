// Bindings of the formula games (EZPoints, Points24) and of their exact evaluator and solver.
#include <vector>

#include "common.hpp"
#include "formula.hpp"

namespace py = pybind11;
using namespace vldac;

static py::tuple formula_eval(const py::array& tokens) {
    if (tokens.ndim() != 1) throw py::value_error("tokens: expected a 1-D int64 array");
    check_array<int64_t>(tokens, "tokens", {tokens.shape(0)});
    const int64_t* p = static_cast<const int64_t*>(tokens.data());
    const py::ssize_t n = tokens.shape(0);
    if (n > formula::MAX_TOKENS) throw py::value_error("tokens: at most 24 tokens");
    std::vector<int8_t> t(n);
    for (py::ssize_t i = 0; i < n; ++i) {
        if (p[i] < 0 || p[i] >= formula::NUM_TOKENS)
            throw py::value_error("tokens: token " + std::to_string(p[i]) + " outside 0..16");
        t[i] = static_cast<int8_t>(p[i]);
    }
    const formula::Result r = formula::evaluate(t.data(), static_cast<int>(n));
    return py::make_tuple(static_cast<int>(r.status), r.value.num, r.value.den);
}

void bind_formula(py::module_& m) {
    bind_vecenv<EZPoints>(m, "EZPoints",
                          "Batch of Gym-Cards EZPoints envs (actions: 0-9 numbers 1..10, 10 '+', 11 '*', 12 '=').");
    bind_vecenv<Points24>(m, "Points24",
                          "Batch of Gym-Cards Points24 envs (actions: 0-9 numbers 1..10, 10-16 '+ - * / ( ) =').");
    m.def("formula_eval", &formula_eval, py::arg("tokens"),
          "Exact evaluation of a token formula (0..9 = numbers 1..10, 10..15 = + - * / ( ), 16 = "
          "invalid placeholder); returns (status, num, den), status 0 ok, 1 syntax error, 2 division "
          "by zero.");
    m.def(
        "points24_solvable",
        [](const std::vector<int>& values) {
            if (values.size() != 4) throw py::value_error("values: expected 4 card values");
            for (int v : values)
                if (v < 1 || v > 10) throw py::value_error("values: card values are 1..10");
            return formula::points24_solvable(values.data());
        },
        py::arg("values"), "Whether four card values (1..10), each used once, can make exactly 24.");
}
