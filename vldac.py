"""VL-DAC: Vision-Language Decoupled Actor-Critic, in one file.

    python vldac.py --env gymcards                      # built-in tiny VLM, NumberLine, CPU, offline
    python vldac.py --env gymcards --task points24 --model Qwen/Qwen2-VL-2B-Instruct --device cuda
"""
import numpy as np

from envs import _C


# --- step-level GAE -------------------------------------------------------------------------------
def compute_gae_reference(rewards, values, terminated, truncated, next_value, gamma, gae_lambda,
                          final_values=None):
    """Readable numpy GAE over env steps. All (T, N) time-major; next_value (N,) is V(s_T).

    terminated: no bootstrap. truncated: bootstrap with final_values[t] = V(final observation);
    without final_values a truncated step gets advantage 0 (the official code's behaviour).
    Either ends the chain, since values[t + 1] then belongs to the next episode.
    """
    T = rewards.shape[0]
    advantages = np.zeros_like(rewards, dtype=np.float32)
    carry = np.zeros_like(next_value, dtype=np.float32)  # advantage of step t + 1
    for t in reversed(range(T)):
        next_values = next_value if t == T - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_values - values[t]
        adv = delta + gamma * gae_lambda * carry
        if final_values is not None:
            truncated_adv = rewards[t] + gamma * final_values[t] - values[t]
        else:
            truncated_adv = np.zeros_like(adv)
        adv = np.where(truncated[t], truncated_adv, adv)
        adv = np.where(terminated[t], rewards[t] - values[t], adv)
        advantages[t] = carry = adv
    return advantages, (advantages + values).astype(np.float32)


def compute_gae(rewards, values, terminated, truncated, next_value, gamma, gae_lambda, final_values=None):
    """Same as compute_gae_reference, in C++ (float32, C-contiguous inputs; ValueError otherwise)."""
    return _C.gae(rewards, values, terminated, truncated, next_value, gamma, gae_lambda, final_values)
