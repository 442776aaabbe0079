"""MiniWorld tasks headless (pyglet's EGL mode, Mesa llvmpipe on the CPU): every task runs, episodes are
seeded and reproducible in process and in forked workers, the box, the last step and the time limit end
episodes as in the grid twins, and miniworld is imported only when such an env is made."""
import json
import math
import subprocess
import sys

import gymnasium
import numpy as np
import pytest

import envs
from envs.grid import HISTORY, SYMBOLS
from envs.miniworld import box_distance

LEFT, RIGHT, FORWARD, BACK = range(4)


def test_import_is_lazy():
    code = ("import sys, envs; envs.make('grid/oneroom', 1).reset(); "
            "assert 'miniworld' not in sys.modules and 'pyglet' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("task", ["OneRoom", "Hallway", "FourRooms", "WallGap"])
def test_task_runs_headless(task):
    env = envs.make(f"miniworld/{task}", 2, seed=1)
    try:
        assert env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
        assert env.single_observation_space.shape == (60, 80, 3) and env.action_symbols == SYMBOLS
        obs, _ = env.reset()
        assert obs.shape == (2, 60, 80, 3) and obs.dtype == np.uint8
        for action in [FORWARD, LEFT, BACK, RIGHT] * 3:
            obs, rewards, terminated, truncated, _ = env.step(np.full(2, action))
            assert rewards.dtype == np.float32 and terminated.dtype == bool and truncated.dtype == bool
        assert obs.std() > 10  # a rendered scene, not a blank frame
        images, text = env.prompt(1)
        assert len(images) == HISTORY and "red box" in text
    finally:
        env.close()


def run(env, steps, seed):
    out = [env.reset(seed=seed)[0]]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        out.append(env.step(rng.integers(0, 4, env.num_envs))[0])
    return np.stack(out)


def test_seeded_and_same_in_workers():
    local = envs.make("miniworld/OneRoom", 3, seed=5)
    forked = envs.make("miniworld/OneRoom", 3, seed=5, workers=2)
    try:
        a = run(local, 30, seed=5)
        np.testing.assert_array_equal(a, run(forked, 30, seed=5))
        np.testing.assert_array_equal(a, run(local, 30, seed=5))
        assert not np.array_equal(a[0], run(local, 0, seed=6)[0])
        np.testing.assert_array_equal(a[0, 1], run(local, 0, seed=6)[0, 0])  # env i is seeded with seed + i
    finally:
        local.close()
        forked.close()


def put_next_to_box(mw, distance=1.25):
    """Puts the agent `distance` m from the box on the room's side, facing it (reached after one step)."""
    box = mw.box.pos
    centre = np.array([(mw.min_x + mw.max_x) / 2, 0, (mw.min_z + mw.max_z) / 2])
    u = (centre - box) / np.linalg.norm(centre - box)
    mw.agent.pos = box + distance * u
    mw.agent.dir = math.atan2(u[2], -u[0])  # dir_vec = (cos dir, 0, -sin dir) = -u


def test_box_last_step_and_time_limit():
    env = envs.make("miniworld/OneRoom", 1, seed=2, max_steps=5)
    try:
        env.reset()
        mw = env._local.envs[0]
        put_next_to_box(mw)
        obs, reward, terminated, truncated, infos = env.step(np.array([FORWARD]))
        assert terminated[0] and not truncated[0] and reward[0] == np.float32(1 - 0.2 * 1 / 5)
        assert infos["episode"]["success"][0] and infos["episode"]["l"][0] == 1
        for _ in range(4):
            env.step(np.array([LEFT]))
        put_next_to_box(mw)
        obs, reward, terminated, truncated, infos = env.step(np.array([FORWARD]))  # the last step
        assert terminated[0] and not truncated[0] and reward[0] == np.float32(0.8)
        frames = []
        for step in range(5):
            obs, reward, terminated, truncated, infos = env.step(np.array([LEFT]))
            frames.append(infos["final_obs"][0] if step == 4 else obs[0])
        assert truncated[0] and not terminated[0] and reward[0] == 0
        assert infos["episode"]["l"][0] == 5 and not infos["episode"]["success"][0]
        final, _ = env.prompt(0, final=True)
        assert len(final) == HISTORY
        for got, want in zip(final, frames[-HISTORY:]):
            np.testing.assert_array_equal(got, want)
        assert len(env.prompt(0)[0]) == 1
    finally:
        env.close()


def test_shaping_adds_the_progress_towards_the_box():
    """shaping=50: every step also earns 0.5 per metre closer to the box; an episode that only got closer is
    no success."""
    env = envs.make("miniworld/OneRoom", 1, seed=2, max_steps=3, shaping=50)
    try:
        env.reset()
        mw = env._local.envs[0]
        put_next_to_box(mw, distance=2.5)
        for action in (FORWARD, FORWARD, BACK):
            before = box_distance(mw)
            obs, reward, terminated, truncated, infos = env.step(np.array([action]))
            if not truncated[0]:
                assert reward[0] == pytest.approx(0.5 * (before - box_distance(mw)), abs=1e-6) and reward[0] != 0
        assert truncated[0] and infos["episode"]["r"][0] > 0 and not infos["episode"]["success"][0]
    finally:
        env.close()


def test_errors():
    with pytest.raises(ValueError):
        envs.make("miniworld/Maze", 1)
    with pytest.raises(ValueError):
        envs.make("miniworld/OneRoom", 1, top_down=True)
    env = envs.make("miniworld/OneRoom", 1, image_size=64)
    try:
        assert env.reset()[0].shape == (1, 48, 64, 3)
        with pytest.raises(IndexError):
            env.step(np.array([4]))
        assert env.parse_action('{"action": "move back"}') == (3, True)
    finally:
        env.close()


@pytest.mark.parametrize("workers", [0, 1])
def test_captions_say_where_the_box_is(workers):
    """From miniworld's own state: the box ahead when faced, on the right after turning left by 25 degrees
    (and on the left after turning right), not in view when the agent faces away; the same in a worker."""
    env = envs.make("miniworld/OneRoom", 2, seed=3, workers=workers)
    try:
        env.reset()
        said = {}
        for turn, want in ((0, "the box is ahead"), (25, "the box is on the right"), (-25, "the box is on the left"),
                           (180, "no box in view")):
            if workers == 0:
                mw = env._local.envs[0]
                put_next_to_box(mw, distance=3)
                mw.agent.dir += math.radians(turn)
                env._said = None  # the state was edited behind the env's back
                assert env.caption(0) == want
            said[turn] = env.caption(1)
        assert env.caption_fields[want] == {"box in view": False} and set(said.values()) <= set(env.captions)
        with pytest.raises(IndexError):
            env.caption(2)
        env.step(np.array([LEFT, LEFT]))  # a new view is captioned afresh
        assert env._said is None and env.caption(1) in env.captions
    finally:
        env.close()


def test_a_grid_policy_is_evaluated_on_miniworld(tmp_path):
    """--eval-only --env miniworld on a grid run's checkpoint: the transfer check (same prompt, same actions)."""
    import vldac
    run = tmp_path / "run"
    vldac.main(["--env", "grid", "--env-options", "max_steps=6", "--num-envs", "2", "--num-steps", "2", "--total-timesteps", "4", "--max-new-tokens", "8",
                "--format-warmup-steps", "2", "--perception-steps", "0", "--eval-every", "0", "--eval-episodes", "2",
                "--run-dir", str(run)])
    res = vldac.main(["--eval-only", "--checkpoint", str(run), "--env", "miniworld", "--eval-episodes", "2"])
    assert res["sampled"]["episodes"] == 2 and 0 <= res["greedy"]["success_rate"] <= 1
    assert vldac.load_checkpoint(run)[1]["args"]["env"] == "grid"


def test_a_miniworld_run_checkpoints_and_resumes_with_new_episodes(tmp_path):
    """MiniWorld has no exact state: its checkpoints hold no env snapshot and a resume starts new episodes
    (the model, optimizer and random states are restored as for every env)."""
    import vldac
    run = tmp_path / "run"
    flags = ["--env", "miniworld", "--env-options", "max_steps=6", "--num-envs", "2", "--num-steps", "2", "--total-timesteps",
             "8", "--max-new-tokens", "8", "--format-warmup-steps", "2", "--perception-steps", "0", "--eval-every", "0",
             "--eval-episodes", "2", "--checkpoint-every", "1"]
    vldac.main([*flags, "--run-dir", str(run)])
    assert vldac.load_checkpoint(run)[1]["ranks"][0]["env"] is None and (run / "latest").read_text() == "ckpt-000002"
    (run / "latest").write_text("ckpt-000001")  # as if killed after the first checkpoint
    m = vldac.main(["--resume", str(run)])
    assert m["update"] == 2 and (run / "latest").read_text() == "ckpt-000002"
    assert [json.loads(line)["update"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2]
