// Step-level generalized advantage estimation over (T, N) time-major buffers.
#pragma once
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace vldac {

// Columns [n0, n1) of the (T, N) problem: a backward pass over time, vectorized over envs.
template <bool kFinal>
void gae_columns(const float* __restrict rewards, const float* __restrict values,
                 const uint8_t* __restrict terminated, const uint8_t* __restrict truncated,
                 const float* __restrict next_value, const float* __restrict final_values, int64_t T,
                 int64_t N, int64_t n0, int64_t n1, float gamma, float lam, float* __restrict advantages,
                 float* __restrict returns) {
    std::vector<float> carry_buf(n1 - n0, 0.0f);  // advantage of step t+1 per env
    float* __restrict carry = carry_buf.data() - n0;
    const float gl = gamma * lam;
    for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t o = t * N;
        const float* __restrict nv = t == T - 1 ? next_value : values + o + N;
        // branch-free (0/1 masks) so the compiler vectorizes it
        for (int64_t n = n0; n < n1; ++n) {
            const float r = rewards[o + n], v = values[o + n];
            const float term = terminated[o + n], trunc = truncated[o + n];
            const float cont = r + gamma * nv[n] - v + gl * carry[n];
            const float cut = kFinal ? r + gamma * final_values[o + n] - v : 0.0f;
            const float a = term * (r - v) + (1.0f - term) * (trunc * cut + (1.0f - trunc) * cont);
            carry[n] = a;
            advantages[o + n] = a;
            returns[o + n] = a + v;
        }
    }
}

// Writes advantages and returns (both (T, N)). terminated: no bootstrap. truncated: bootstrap with
// final_values[t] when given (may be null), else advantage 0 and return = value. Either cuts the chain.
// Large problems are split over env columns across threads (columns are independent).
inline void gae(const float* rewards, const float* values, const bool* terminated, const bool* truncated,
                const float* next_value, const float* final_values, int64_t T, int64_t N, float gamma,
                float lam, float* advantages, float* returns) {
    // bool is one byte 0/1 here; as uint8_t the compiler can vectorize the masks
    const auto* term = reinterpret_cast<const uint8_t*>(terminated);
    const auto* trunc = reinterpret_cast<const uint8_t*>(truncated);
    auto run = [&](int64_t n0, int64_t n1) {
        if (final_values)
            gae_columns<true>(rewards, values, term, trunc, next_value, final_values, T, N, n0, n1, gamma,
                              lam, advantages, returns);
        else
            gae_columns<false>(rewards, values, term, trunc, next_value, nullptr, T, N, n0, n1, gamma, lam,
                               advantages, returns);
    };
    const int64_t hw = std::max(1u, std::thread::hardware_concurrency());
    const int64_t threads = std::min<int64_t>({hw, 8, N / 64, T * N / (1 << 18)});
    if (threads <= 1) return run(0, N);
    std::vector<std::thread> pool;
    const int64_t chunk = (N + threads - 1) / threads / 16 * 16 + 16;  // 64-byte aligned column blocks
    for (int64_t n0 = 0; n0 < N; n0 += chunk) pool.emplace_back(run, n0, std::min(N, n0 + chunk));
    for (auto& th : pool) th.join();
}

}  // namespace vldac
