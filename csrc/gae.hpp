// Step-level generalized advantage estimation over (T, N) time-major buffers.
#pragma once
#include <cstdint>
#include <vector>

namespace vldac {

// Writes advantages and returns (both (T, N)). terminated: no bootstrap. truncated: bootstrap with
// final_values[t] when given (may be null), else advantage 0 and return = value. Either cuts the chain.
inline void gae(const float* rewards, const float* values, const bool* terminated, const bool* truncated,
                const float* next_value, const float* final_values, int64_t T, int64_t N, float gamma,
                float lam, float* advantages, float* returns) {
    std::vector<float> carry(N, 0.0f);  // advantage of step t+1 per env
    const float gl = gamma * lam;
    for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t o = t * N;
        const float* nv = t == T - 1 ? next_value : values + o + N;
        const float* fv = final_values ? final_values + o : nullptr;
        for (int64_t n = 0; n < N; ++n) {
            const float v = values[o + n];
            const bool term = terminated[o + n], trunc = truncated[o + n];
            float a;
            if (term) a = rewards[o + n] - v;
            else if (trunc) a = fv ? rewards[o + n] + gamma * fv[n] - v : 0.0f;
            else a = rewards[o + n] + gamma * nv[n] - v + gl * carry[n];
            carry[n] = a;
            advantages[o + n] = a;
            returns[o + n] = a + v;
        }
    }
}

}  // namespace vldac
