import numpy as np
import pytest

from vldac import compute_gae, compute_gae_reference


def random_case(rng, T, N, p_term=0.1, p_trunc=0.05):
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    values = rng.normal(size=(T, N)).astype(np.float32)
    terminated = rng.random((T, N)) < p_term
    truncated = (rng.random((T, N)) < p_trunc) & ~terminated
    next_value = rng.normal(size=N).astype(np.float32)
    final_values = rng.normal(size=(T, N)).astype(np.float32)
    return rewards, values, terminated, truncated, next_value, final_values


@pytest.mark.parametrize("T,N", [(1, 1), (1, 7), (5, 3), (64, 16), (257, 33), (1100, 300)])  # last: threaded
@pytest.mark.parametrize("with_final", [False, True])
def test_cpp_matches_reference(T, N, with_final):
    rng = np.random.default_rng(T * 1000 + N)
    r, v, te, tr, nv, fv = random_case(rng, T, N)
    fv = fv if with_final else None
    adv_ref, ret_ref = compute_gae_reference(r, v, te, tr, nv, 0.99, 0.95, fv)
    adv, ret = compute_gae(r, v, te, tr, nv, 0.99, 0.95, fv)
    assert adv.dtype == ret.dtype == np.float32 and adv.shape == ret.shape == (T, N)
    np.testing.assert_allclose(adv, adv_ref, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(ret, ret_ref, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(ret, adv + v, atol=1e-6)


@pytest.mark.parametrize("gae", [compute_gae, compute_gae_reference])
def test_hand_computed_three_steps(gae):
    # one env, gamma 0.5, lambda 0.5: step 0 continues, step 1 continues, step 2 terminates.
    r = np.array([[1.0], [2.0], [4.0]], np.float32)
    v = np.array([[0.5], [1.0], [2.0]], np.float32)
    f = np.zeros((3, 1), bool)
    te = np.array([[False], [False], [True]])
    nv = np.array([8.0], np.float32)  # ignored: step 2 terminated
    # delta2 = 4 - 2 = 2; A2 = 2
    # delta1 = 2 + 0.5*2 - 1 = 2; A1 = 2 + 0.25*2 = 2.5
    # delta0 = 1 + 0.5*1 - 0.5 = 1; A0 = 1 + 0.25*2.5 = 1.625
    adv, ret = gae(r, v, te, f, nv, 0.5, 0.5)
    np.testing.assert_allclose(adv[:, 0], [1.625, 2.5, 2.0])
    np.testing.assert_allclose(ret[:, 0], [2.125, 3.5, 4.0])
    # truncation at step 1 bootstrapped with V(final obs) = 3: A1 = 2 + 0.5*3 - 1 = 2.5, chain cut
    tr = np.array([[False], [True], [False]])
    fv = np.array([[0.0], [3.0], [0.0]], np.float32)
    adv, _ = gae(r, v, f, tr, nv, 0.5, 0.5, fv)
    # A2 = 4 + 0.5*8 - 2 = 6 (bootstraps next_value); A0 = 1 + 0.5*1 - 0.5 + 0.25*2.5 = 1.625
    np.testing.assert_allclose(adv[:, 0], [1.625, 2.5, 6.0])
    # without final values the truncated step gets advantage 0 and return = value
    adv, ret = gae(r, v, f, tr, nv, 0.5, 0.5)
    np.testing.assert_allclose(adv[:, 0], [1.0, 0.0, 6.0])
    np.testing.assert_allclose(ret[1, 0], 1.0)


@pytest.mark.parametrize("done", ["terminated", "truncated"])
def test_all_done_is_one_step_returns(done):
    rng = np.random.default_rng(0)
    r, v, _, _, nv, fv = random_case(rng, 6, 4)
    all_true, none = np.ones((6, 4), bool), np.zeros((6, 4), bool)
    te, tr = (all_true, none) if done == "terminated" else (none, all_true)
    adv, ret = compute_gae(r, v, te, tr, nv, 0.9, 0.8, fv)
    expected = r - v if done == "terminated" else r + 0.9 * fv - v
    np.testing.assert_allclose(adv, expected, atol=1e-6)


def test_none_done_is_discounted_td_sum():
    rng = np.random.default_rng(1)
    r, v, _, _, nv, _ = random_case(rng, 8, 3)
    none = np.zeros((8, 3), bool)
    adv, _ = compute_gae(r, v, none, none, nv, 0.9, 1.0)
    # lambda = 1: A_t = sum_k gamma^k r_{t+k} + gamma^(T-t) V(s_T) - V(s_t)
    for t in range(8):
        disc = 0.9 ** np.arange(8 - t)
        expected = (disc[:, None] * r[t:]).sum(0) + 0.9 ** (8 - t) * nv - v[t]
        np.testing.assert_allclose(adv[t], expected, rtol=1e-5, atol=1e-5)


def test_bad_inputs_raise_value_error():
    r, v, te, tr, nv, fv = random_case(np.random.default_rng(2), 4, 3)
    bad = {
        "rewards": r.astype(np.float64),
        "values": v[:, :2],
        "terminated": te.astype(np.uint8),
        "truncated": tr[:3],
        "next_value": nv[:2],
        "final_values": fv.T.copy(),
    }
    args = dict(rewards=r, values=v, terminated=te, truncated=tr, next_value=nv, final_values=fv)
    for name, value in bad.items():
        with pytest.raises(ValueError, match=name):
            compute_gae(**{**args, name: value}, gamma=0.9, gae_lambda=0.9)
    with pytest.raises(ValueError, match="contiguous"):
        compute_gae(np.asfortranarray(np.zeros((4, 3), np.float32)), v, te, tr, nv, 0.9, 0.9)
    with pytest.raises(ValueError, match="rewards"):
        compute_gae(r[0], v, te, tr, nv, 0.9, 0.9)
    with pytest.raises(TypeError):
        compute_gae([[1.0]], v, te, tr, nv, 0.9, 0.9)
