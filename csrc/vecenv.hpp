// Generic batched environment: N copies of one task, one RNG per env (seeded seed + i), same-step
// autoreset, episode statistics, and bind_vecenv<Env>() that exposes a batch to Python (envs/base.py).
//
// A task is a small struct (see NumberLine in gymcards.hpp) with:
//   static constexpr int kNumActions;
//   struct Config { int image_size; ... };   static Config configure(Options);   // throws std::invalid_argument
//   (a Config with an `int height` gets (height, image_size) frames: image_size is then the width)
//   struct Art { explicit Art(const Config&); ... };   // static layers and sprites, built once per batch
//   explicit Env(const Config&);
//   void reset(Rng&);                          // start an episode (draws only from this env's RNG)
//   StepResult step(int action, Rng&);         // action already range-checked
//   void draw(const Art&, Image frame) const;  // the full (S, S, 3) observation, from scratch
//   std::string text() const;                  // text state shown in the prompt ("" when none)
//   std::vector<int64_t> state() const;  void set_state(const std::vector<int64_t>&);  // tests inject states
//
// set_state must throw std::invalid_argument on any vector that is not a state the task can be in between
// steps, and accept every vector state() returns then: exact snapshots (checkpoint/resume) are built on the
// pair. A snapshot of env i is its RNG words, state(), episode return (the double accumulator) and length;
// every bound batch gets get_snapshot() / set_snapshot(...) (bind_vecenv below; envs/base.py wraps them).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common.hpp"
#include "render.hpp"
#include "rng.hpp"

namespace vldac {

using Options = std::map<std::string, int64_t>;

struct StepResult {
    float reward = 0.0f;
    bool terminated = false, truncated = false;
};

// Whether a finished episode succeeded: Env::succeeded() where an env defines it (its reward can be positive
// without a win, e.g. shaped), else a positive return.
template <class Env> auto episode_success(const Env& env, double, int) -> decltype(env.succeeded()) { return env.succeeded(); }
template <class Env> bool episode_success(const Env&, double episode_return, long) { return episode_return > 0.0; }

// Removes `key` from `options` and returns its value (or `fallback`), checking lo <= value <= hi.
inline int64_t take_option(Options& options, const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
    auto it = options.find(key);
    if (it == options.end()) return fallback;
    const int64_t v = it->second;
    options.erase(it);
    if (v < lo || v > hi)
        throw std::invalid_argument("option " + key + "=" + std::to_string(v) + " is out of range [" +
                                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
}

inline void no_more_options(const Options& options) {
    if (!options.empty()) throw std::invalid_argument("unknown option: " + options.begin()->first);
}

constexpr int64_t kMinImageSize = 32, kMaxImageSize = 1024;

// Frame height: Config::height when the task has one (non-square frames), else image_size.
template <class C>
auto frame_height(const C& c, int) -> decltype(int(c.height)) { return c.height; }
template <class C>
int frame_height(const C& c, long) { return c.image_size; }

template <class Env>
class VecEnv {
  public:
    using Config = typename Env::Config;

    VecEnv(int64_t num_envs, uint64_t seed, const Config& config)
        : config_(config), art_(config), envs_(num_envs, Env(config)), rngs_(num_envs), returns_(num_envs, 0.0),
          lengths_(num_envs, 0), finals_(envs_) {
        for (int64_t i = 0; i < num_envs; ++i) rngs_[i].reseed(seed + static_cast<uint64_t>(i));
    }

    int64_t num_envs() const { return static_cast<int64_t>(envs_.size()); }
    int image_size() const { return config_.image_size; }
    int height() const { return frame_height(config_, 0); }

    // Starts a new episode in every env (reseeding env i with seed + i when `seed` is given) and writes the
    // first observations to obs (N, S, S, 3).
    void reset(const uint64_t* seed, uint8_t* obs) {
        for (int64_t i = 0; i < num_envs(); ++i) {
            if (seed) rngs_[i].reseed(*seed + static_cast<uint64_t>(i));
            envs_[i].reset(rngs_[i]);
            returns_[i] = 0.0;
            lengths_[i] = 0;
            envs_[i].draw(art_, frame(obs, i));
        }
    }

    // Steps every env. An env whose episode ends is reset at once (same-step autoreset): obs[i] is the new
    // episode's first observation, ep_*[i] the finished episode's statistics (zero for envs that did not
    // end) and ended[i] true; draw_finals() then draws the finished episodes' last observations. Returns
    // whether any episode ended.
    bool step(const int64_t* actions, uint8_t* obs, float* rewards, bool* terminated, bool* truncated,
              float* ep_return, int32_t* ep_length, bool* ep_success, bool* ended) {
        for (int64_t i = 0; i < num_envs(); ++i)
            if (actions[i] < 0 || actions[i] >= Env::kNumActions)
                throw std::out_of_range("actions[" + std::to_string(i) + "] = " + std::to_string(actions[i]) +
                                        " is out of range [0, " + std::to_string(Env::kNumActions) + ")");
        bool any = false;
        for (int64_t i = 0; i < num_envs(); ++i) {
            const StepResult r = envs_[i].step(static_cast<int>(actions[i]), rngs_[i]);
            rewards[i] = r.reward;
            terminated[i] = r.terminated;
            truncated[i] = r.truncated;
            returns_[i] += r.reward;
            lengths_[i] += 1;
            ended[i] = r.terminated || r.truncated;
            ep_return[i] = ended[i] ? static_cast<float>(returns_[i]) : 0.0f;
            ep_length[i] = ended[i] ? lengths_[i] : 0;
            ep_success[i] = ended[i] && episode_success(envs_[i], returns_[i], 0);
            if (ended[i]) {
                any = true;
                finals_[i] = envs_[i];  // drawn later by draw_finals, and read by text(i, true)
                envs_[i].reset(rngs_[i]);
                returns_[i] = 0.0;
                lengths_[i] = 0;
            }
            envs_[i].draw(art_, frame(obs, i));
        }
        return any;
    }

    // Draws final_obs[i], the last observation of the episode env i ended at the last step, where ended[i]
    // (other rows are left as they are: the binding passes zeros).
    void draw_finals(const bool* ended, uint8_t* final_obs) const {
        for (int64_t i = 0; i < num_envs(); ++i)
            if (ended[i]) finals_[i].draw(art_, frame(final_obs, i));
    }

    void render(uint8_t* obs) const {
        for (int64_t i = 0; i < num_envs(); ++i) envs_[i].draw(art_, frame(obs, i));
    }
    // The prompt text of env i's current episode, or of the episode it finished last (final).
    std::string text(int64_t i, bool final) const { return final ? finals_[i].text() : envs_[i].text(); }
    std::vector<int64_t> state(int64_t i) const { return envs_[i].state(); }
    void set_state(int64_t i, const std::vector<int64_t>& s) { envs_[i].set_state(s); }

    // What env i carries from one step to the next. The last finished episode (finals_) is left out: it is
    // only read right after the step that ended it, and snapshots are taken between steps.
    struct Snapshot {
        std::array<uint64_t, 4> rng{};
        std::vector<int64_t> state;
        double episode_return = 0.0;
        int32_t episode_length = 0;
    };
    Snapshot snapshot(int64_t i) const { return {rngs_[i].words(), envs_[i].state(), returns_[i], lengths_[i]}; }

    // Restores every env from snaps[i], all or nothing: throws std::invalid_argument (naming the env) and
    // changes nothing if any entry is not one a batch between steps can hold. The caller redraws the
    // observations (render).
    void restore(const std::vector<Snapshot>& snaps) {
        if (snaps.size() != envs_.size())
            throw std::invalid_argument("snapshot holds " + std::to_string(snaps.size()) + " envs, the batch " +
                                        std::to_string(envs_.size()));
        std::vector<Env> staged(envs_);
        for (size_t i = 0; i < snaps.size(); ++i) {
            const Snapshot& s = snaps[i];
            const std::string where = "snapshot env " + std::to_string(i) + ": ";
            if ((s.rng[0] | s.rng[1] | s.rng[2] | s.rng[3]) == 0)
                throw std::invalid_argument(where + "the RNG words are all zero (not a reachable RNG state)");
            if (!std::isfinite(s.episode_return))
                throw std::invalid_argument(where + "the episode return is not finite");
            if (s.episode_length < 0) throw std::invalid_argument(where + "the episode length is negative");
            try {
                staged[i].set_state(s.state);
            } catch (const std::invalid_argument& e) {
                throw std::invalid_argument(where + e.what());
            }
        }
        envs_ = std::move(staged);
        for (size_t i = 0; i < snaps.size(); ++i) {
            rngs_[i].set_words(snaps[i].rng);
            returns_[i] = snaps[i].episode_return;
            lengths_[i] = snaps[i].episode_length;
        }
    }

  private:
    size_t frame_bytes() const { return static_cast<size_t>(config_.image_size) * height() * 3; }
    Image frame(uint8_t* base, int64_t i) const {
        return {base + frame_bytes() * static_cast<size_t>(i), config_.image_size, height()};
    }

    Config config_;
    typename Env::Art art_;
    std::vector<Env> envs_;
    std::vector<Rng> rngs_;
    std::vector<double> returns_;
    std::vector<int32_t> lengths_;
    std::vector<Env> finals_;  // each env's last finished episode, at its end
};

// --- Python binding: bind_vecenv<Task>(m, "Task", "doc") adds class envs._C.Task (wrapped by envs/base.py).

namespace detail {
inline int64_t check_index(int64_t i, int64_t n) {
    if (i < 0 || i >= n)
        throw std::out_of_range("env index " + std::to_string(i) + " is out of range [0, " + std::to_string(n) + ")");
    return i;
}

// Snapshot fields from Python, strictly: lists (or tuples) of the expected length and ints (anything with
// __index__ but bool) in range; anything else raises ValueError naming the field.
inline std::string type_name(py::handle h) { return Py_TYPE(h.ptr())->tp_name; }

inline py::sequence snapshot_list(py::handle h, const std::string& what, py::ssize_t n = -1) {
    if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
        throw py::value_error(what + ": expected a list, got " + type_name(h));
    auto seq = py::reinterpret_borrow<py::sequence>(h);
    if (n >= 0 && static_cast<py::ssize_t>(seq.size()) != n)
        throw py::value_error(what + ": expected " + std::to_string(n) + " entries, got " + std::to_string(seq.size()));
    return seq;
}

inline py::object snapshot_int(py::handle h, const std::string& what) {
    if (PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
        throw py::value_error(what + ": expected an int, got " + type_name(h));
    PyObject* v = PyNumber_Index(h.ptr());
    if (!v) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(v);
}

inline uint64_t snapshot_u64(py::handle h, const std::string& what) {
    const py::object v = snapshot_int(h, what);
    const unsigned long long r = PyLong_AsUnsignedLongLong(v.ptr());
    if (r == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
        PyErr_Clear();
        throw py::value_error(what + " = " + std::string(py::str(v)) + " is out of range [0, 2**64)");
    }
    return static_cast<uint64_t>(r);
}

inline int64_t snapshot_i64(py::handle h, const std::string& what, int64_t lo, int64_t hi) {
    const py::object v = snapshot_int(h, what);
    int overflow = 0;
    const long long r = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
    if (r == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (overflow || r < lo || r > hi)
        throw py::value_error(what + " = " + std::string(py::str(v)) + " is out of range [" + std::to_string(lo) +
                              ", " + std::to_string(hi) + "]");
    return static_cast<int64_t>(r);
}

// Recycles the memory behind the (rows, S, S, 3) frame arrays a batch returns: a buffer goes back to the
// pool when NumPy frees its array, so steady-state stepping writes to memory that is already mapped (a
// fresh multi-MB allocation per step costs page faults, several times the frame writes themselves) and
// never reuses memory a live array still holds. A zeroed pool hands out buffers whose rows are all zero
// except those the caller is about to overwrite; it remembers which rows were written and re-zeroes only
// those that the next user does not overwrite. Only used with the GIL held.
class FramePool {
  public:
    FramePool(int64_t rows, size_t row_bytes, bool zeroed) : rows_(rows), row_bytes_(row_bytes), zeroed_(zeroed) {}
    FramePool(const FramePool&) = delete;
    ~FramePool() {
        for (Buffer& b : free_) std::free(b.data);
    }

    // A new (shape) uint8 array over a pooled buffer. Zeroed pools: rows r with overwrite[r] hold stale
    // bytes (the caller writes them), all other rows are zero.
    static py::array_t<uint8_t> array(const std::shared_ptr<FramePool>& pool, std::vector<py::ssize_t> shape,
                                      const bool* overwrite = nullptr) {
        FramePool& p = *pool;
        auto* owner = new Owner{pool, {}};
        Buffer& b = owner->buffer;
        if (!p.free_.empty()) {
            b = std::move(p.free_.back());
            p.free_.pop_back();
        } else {
            b.data = static_cast<uint8_t*>(p.zeroed_ ? std::calloc(p.rows_ * p.row_bytes_, 1)
                                                     : std::malloc(p.rows_ * p.row_bytes_));
            if (!b.data) {
                delete owner;
                throw std::bad_alloc();
            }
        }
        if (p.zeroed_) {
            for (int64_t r : b.dirty_rows)
                if (!(overwrite && overwrite[r])) std::memset(b.data + r * p.row_bytes_, 0, p.row_bytes_);
            b.dirty_rows.clear();
            for (int64_t r = 0; overwrite && r < p.rows_; ++r)
                if (overwrite[r]) b.dirty_rows.push_back(r);
        }
        py::capsule base(owner, [](void* ptr) {
            auto* o = static_cast<Owner*>(ptr);
            if (o->pool->free_.size() < kKeep) o->pool->free_.push_back(std::move(o->buffer));
            else std::free(o->buffer.data);
            delete o;
        });
        return py::array_t<uint8_t>(std::move(shape), b.data, base);
    }

  private:
    struct Buffer {
        uint8_t* data = nullptr;
        std::vector<int64_t> dirty_rows;  // rows written since they were last zero (zeroed pools)
    };
    struct Owner {
        std::shared_ptr<FramePool> pool;
        Buffer buffer;
    };
    static constexpr size_t kKeep = 2;  // free buffers kept; steady stepping needs one per pool
    int64_t rows_;
    size_t row_bytes_;
    bool zeroed_;
    std::vector<Buffer> free_;
};
}  // namespace detail

template <class Env>
struct BoundVecEnv {
    VecEnv<Env> env;
    size_t frame_bytes;
    std::shared_ptr<detail::FramePool> pool, zeroed_pool;  // observations; final observations
    // step's per-episode outputs, copied into NumPy arrays only at steps where an episode ended (most steps
    // end none, and four fewer array allocations are a fifth of a one-env step)
    std::vector<float> ep_return;
    std::vector<int32_t> ep_length;
    std::unique_ptr<bool[]> ep_success, ended;
    BoundVecEnv(int64_t num_envs, uint64_t seed, const typename Env::Config& config)
        : env(num_envs, seed, config),
          frame_bytes(static_cast<size_t>(config.image_size) * frame_height(config, 0) * 3),
          pool(std::make_shared<detail::FramePool>(num_envs, frame_bytes, false)),
          zeroed_pool(std::make_shared<detail::FramePool>(num_envs, frame_bytes, true)),
          ep_return(num_envs), ep_length(num_envs), ep_success(new bool[num_envs]), ended(new bool[num_envs]) {}
    py::array_t<uint8_t> frames() { return detail::FramePool::array(pool, shape()); }
    // Zeros except the rows where overwrite[i] (the caller draws those).
    py::array_t<uint8_t> zeroed_frames(const bool* overwrite) {
        return detail::FramePool::array(zeroed_pool, shape(), overwrite);
    }
    std::vector<py::ssize_t> shape() const {
        return {py::ssize_t(env.num_envs()), py::ssize_t(env.height()), py::ssize_t(env.image_size()), py::ssize_t(3)};
    }
};

template <class Env>
void bind_vecenv(py::module_& m, const char* name, const char* doc) {
    using B = BoundVecEnv<Env>;
    py::class_<B>(m, name, doc)
        .def(py::init([](int64_t num_envs, uint64_t seed, Options options) {
                 if (num_envs < 1) throw std::invalid_argument("num_envs must be >= 1, got " + std::to_string(num_envs));
                 return std::make_unique<B>(num_envs, seed, Env::configure(std::move(options)));
             }),
             py::arg("num_envs"), py::arg("seed") = 0, py::arg("options") = Options{})
        .def_property_readonly("num_envs", [](const B& b) { return b.env.num_envs(); })
        .def_property_readonly("image_size", [](const B& b) { return b.env.image_size(); })
        .def_property_readonly_static("num_actions", [](const py::object&) { return Env::kNumActions; })
        .def(
            "reset",
            [](B& b, const py::object& seed) {
                py::array_t<uint8_t> obs = b.frames();
                const uint64_t seed_value = seed.is_none() ? 0 : seed.cast<uint64_t>();
                uint8_t* o = obs.mutable_data();
                {
                    py::gil_scoped_release release;
                    b.env.reset(seed.is_none() ? nullptr : &seed_value, o);
                }
                return obs;
            },
            py::arg("seed") = py::none(), "Starts new episodes (env i reseeded with seed + i if given); returns obs.")
        .def(
            "step",
            [](B& b, const py::array& actions) -> py::tuple {
                const py::ssize_t n = b.env.num_envs();
                check_array<int64_t>(actions, "actions", {n});
                py::array_t<uint8_t> obs = b.frames();
                py::array_t<float> rewards(n);
                py::array_t<bool> terminated(n), truncated(n);
                const int64_t* a = static_cast<const int64_t*>(actions.data());
                uint8_t* o = obs.mutable_data();
                float* r = rewards.mutable_data();
                bool *te = terminated.mutable_data(), *tr = truncated.mutable_data();
                bool any;
                {
                    py::gil_scoped_release release;
                    any = b.env.step(a, o, r, te, tr, b.ep_return.data(), b.ep_length.data(), b.ep_success.get(),
                                     b.ended.get());
                }
                if (!any) return py::make_tuple(obs, rewards, terminated, truncated, py::none());
                py::array_t<uint8_t> final_obs = b.zeroed_frames(b.ended.get());
                uint8_t* fo = final_obs.mutable_data();
                {
                    py::gil_scoped_release release;
                    b.env.draw_finals(b.ended.get(), fo);
                }
                auto to_array = [n](const auto* src) {
                    py::array_t<std::remove_const_t<std::remove_pointer_t<decltype(src)>>> out(n);
                    std::memcpy(out.mutable_data(), src, n * sizeof(*src));
                    return out;
                };
                return py::make_tuple(obs, rewards, terminated, truncated,
                                      py::make_tuple(to_array(b.ended.get()), final_obs, to_array(b.ep_return.data()),
                                                     to_array(b.ep_length.data()), to_array(b.ep_success.get())));
            },
            py::arg("actions"),
            "Steps all envs with int64 actions (N,); returns (obs, rewards, terminated, truncated, ends) where "
            "ends is None or (ended, final_obs, ep_return, ep_length, ep_success) when some episode ended.")
        .def(
            "render",
            [](B& b) {
                py::array_t<uint8_t> obs = b.frames();
                uint8_t* o = obs.mutable_data();
                {
                    py::gil_scoped_release release;
                    b.env.render(o);
                }
                return obs;
            },
            "The current observations (N, S, S, 3), e.g. after set_state.")
        .def(
            "text",
            [](const B& b, int64_t i, bool final) { return b.env.text(detail::check_index(i, b.env.num_envs()), final); },
            py::arg("i"), py::arg("final") = false)
        .def(
            "get_state", [](const B& b, int64_t i) { return b.env.state(detail::check_index(i, b.env.num_envs())); },
            py::arg("i"))
        .def(
            "set_state",
            [](B& b, int64_t i, const std::vector<int64_t>& s) {
                b.env.set_state(detail::check_index(i, b.env.num_envs()), s);
            },
            py::arg("i"), py::arg("state"))
        .def(
            "get_snapshot",
            [](const B& b) {
                py::list rng, state, return_bits, length;
                for (int64_t i = 0; i < b.env.num_envs(); ++i) {
                    const auto s = b.env.snapshot(i);
                    py::list words;
                    for (uint64_t w : s.rng) words.append(py::int_(w));
                    rng.append(words);
                    state.append(py::cast(s.state));
                    uint64_t bits;
                    static_assert(sizeof bits == sizeof s.episode_return, "double is not 64 bits");
                    std::memcpy(&bits, &s.episode_return, sizeof bits);
                    return_bits.append(py::int_(bits));
                    length.append(py::int_(s.episode_length));
                }
                py::dict d;
                d["rng"] = rng, d["state"] = state, d["return_bits"] = return_bits, d["length"] = length;
                return d;
            },
            "Per-env lists {rng: 4 uint64 words, state: get_state(i), return_bits: the episode return's float64 "
            "bit pattern, length: the episode length}, plain Python ints (see envs/base.py get_snapshot).")
        .def(
            "set_snapshot",
            [](B& b, const py::object& rng, const py::object& state, const py::object& return_bits,
               const py::object& length) {
                const py::ssize_t n = b.env.num_envs();
                const auto rngs = detail::snapshot_list(rng, "rng", n), states = detail::snapshot_list(state, "state", n);
                const auto bits = detail::snapshot_list(return_bits, "return_bits", n);
                const auto lengths = detail::snapshot_list(length, "length", n);
                std::vector<typename VecEnv<Env>::Snapshot> snaps(static_cast<size_t>(n));
                for (py::ssize_t i = 0; i < n; ++i) {
                    auto& s = snaps[static_cast<size_t>(i)];
                    const std::string at = "[" + std::to_string(i) + "]";
                    const auto words = detail::snapshot_list(rngs[i], "rng" + at, 4);
                    for (py::ssize_t k = 0; k < 4; ++k)
                        s.rng[static_cast<size_t>(k)] = detail::snapshot_u64(words[k], "rng" + at + "[" + std::to_string(k) + "]");
                    const auto st = detail::snapshot_list(states[i], "state" + at);
                    for (size_t k = 0; k < st.size(); ++k)
                        s.state.push_back(detail::snapshot_i64(st[k], "state" + at + "[" + std::to_string(k) + "]",
                                                               INT64_MIN, INT64_MAX));
                    const uint64_t u = detail::snapshot_u64(bits[i], "return_bits" + at);
                    std::memcpy(&s.episode_return, &u, sizeof u);
                    s.episode_length = static_cast<int32_t>(detail::snapshot_i64(lengths[i], "length" + at, 0, INT32_MAX));
                }
                b.env.restore(snaps);  // std::invalid_argument -> ValueError; all or nothing
            },
            py::arg("rng"), py::arg("state"), py::arg("return_bits"), py::arg("length"),
            "Restores every env from get_snapshot()'s lists (all or nothing; ValueError on anything malformed or "
            "out of range). The observations are then render()'s.");
}

}  // namespace vldac
