"""Grid navigation worlds: the C++ batches vs the Python twin in lock step (observation bytes included),
determinism, geometry checks on injected states (walls, doorways, where the box appears), the box reached
on the last step, the time limit, prompts and the gymnasium contract."""
import math
from fractions import Fraction

import gymnasium
import numpy as np
import pytest

import envs
from envs import grid as G
from envs.rng import Rng

TASKS = ["grid/oneroom", "grid/hallway", "grid/fourrooms", "grid/wallgap"]
LEFT, RIGHT, FORWARD, BACK = range(4)


def homing_actions(states, rng, explore=0.3):
    """Turn toward the box, then walk; a random action with probability `explore` (so walls get hit)."""
    actions = []
    for ax, ay, heading, bx, by, _ in states:
        off = (math.degrees(math.atan2(by - ay, bx - ax)) - 15 * heading + 180) % 360 - 180
        best = LEFT if off > 7.5 else RIGHT if off < -7.5 else FORWARD
        actions.append(int(rng.integers(4)) if rng.random() < explore else best)
    return np.array(actions)


def put_next_to_box(pair, i):
    """Moves env i's agent just outside reach of its box, facing it (homing alone rarely finds WallGap's gap)."""
    ax, ay, heading, bx, by, t = pair[0].get_state(i)
    d = G.NEAR + 100
    for dx, dy, facing in [(-d, 0, 0), (d, 0, 12), (0, -d, 6), (0, d, 18)]:
        try:
            pair[0].set_state(i, [bx + dx, by + dy, facing, bx, by, t])
        except ValueError:  # in a wall
            continue
        pair[1].set_state(i, [bx + dx, by + dy, facing, bx, by, t])
        return


def assert_same_step(a, b):
    for k, name in enumerate(["obs", "rewards", "terminated", "truncated"]):
        assert a[k].dtype == b[k].dtype, name
        np.testing.assert_array_equal(a[k], b[k], err_msg=name)
    assert a[4].keys() == b[4].keys()
    if a[4]:
        for key in ["final_obs", "_final_obs", "_episode"]:
            np.testing.assert_array_equal(a[4][key], b[4][key], err_msg=key)
        for key in ["r", "l", "success"]:
            assert a[4]["episode"][key].dtype == b[4]["episode"][key].dtype
            np.testing.assert_array_equal(a[4]["episode"][key], b[4]["episode"][key], err_msg=key)


@pytest.mark.parametrize("top_down", [False, True])
@pytest.mark.parametrize("task", TASKS)
def test_lockstep_parity_with_python_twin(task, top_down):
    size, num_envs = (80, 3) if not top_down else (64, 3)
    cpp = envs.make(task, num_envs, seed=11, image_size=size, max_steps=30, top_down=top_down)
    py = envs.make(task, num_envs, seed=11, image_size=size, max_steps=30, top_down=top_down, backend="python")
    obs_c, _ = cpp.reset()
    obs_p, _ = py.reset()
    np.testing.assert_array_equal(obs_c, obs_p)
    rng = np.random.default_rng(0)
    successes = truncations = 0
    for step in range(150):
        if step % 50 == 0:
            put_next_to_box((cpp, py), step // 50 % num_envs)
        states = [cpp.get_state(i) for i in range(num_envs)]
        assert states == [py.get_state(i) for i in range(num_envs)]
        actions = homing_actions(states, rng)
        out_c, out_p = cpp.step(actions), py.step(actions)
        assert_same_step(out_c, out_p)
        successes += int(out_c[2].sum())
        truncations += int(out_c[3].sum())
        for i in range(num_envs):
            assert cpp.prompt(i)[1] == py.prompt(i)[1]
    assert successes > 0 and truncations > 0  # both kinds of episode end were compared


def test_parity_at_odd_sizes_and_all_headings():
    for size in (32, 57, 161):
        for top_down in (False, True):
            cpp = envs.make("grid/fourrooms", 1, seed=3, image_size=size, top_down=top_down)
            py = envs.make("grid/fourrooms", 1, seed=3, image_size=size, top_down=top_down, backend="python")
            cpp.reset(), py.reset()
            state = cpp.get_state(0)
            for heading in range(G.HEADINGS):
                state[2] = heading
                cpp.set_state(0, state), py.set_state(0, state)
                frame = cpp.render_all()
                assert frame.shape == (1, size * 3 // 4, size, 3)
                np.testing.assert_array_equal(frame, py.render_all())


def tile_dda(world, rx, ry):
    """The textbook grid raycast, tile by tile: (t, side) of the first wall tile the ray enters."""
    tx, ty = world.ax >> G.TILE_SHIFT, world.ay >> G.TILE_SHIFT
    sx, dx, nx = (1, rx, (tx + 1) * G.TILE - world.ax) if rx > 0 else (-1, -rx, world.ax - tx * G.TILE)
    sy, dy, ny = (1, ry, (ty + 1) * G.TILE - world.ay) if ry > 0 else (-1, -ry, world.ay - ty * G.TILE)
    while True:
        if dy == 0 or (dx != 0 and nx * dy <= ny * dx):
            tx, t, side, nx = tx + sx, Fraction(nx, dx), 0, nx + G.TILE
        else:
            ty, t, side, ny = ty + sy, Fraction(ny, dy), 1, ny + G.TILE
        if world.walls[ty, tx]:
            return t, side


def test_rectangle_raycast_matches_tile_dda():
    rng = Rng(4)
    for name in G.LAYOUTS:
        world = G.GridWorld(name)
        for _ in range(40):
            world.reset(rng)
            c, s = G.rotate(G.UNIT_COS, world.heading)
            rays = [(c, s), (1, 0), (-1, 0), (0, 1), (0, -1)]  # axis-aligned rays too (through doorways)
            rays += [(G.TAN_DEN * 60 * c + k * G.TAN_NUM * s, G.TAN_DEN * 60 * s - k * G.TAN_NUM * c)
                     for k in range(-79, 80, 6)]
            for rx, ry in rays:
                num, den, side = world._cast(rx, ry)
                assert (Fraction(num, den), side) == tile_dda(world, rx, ry)


def test_rotation_tables():
    for k in range(G.HEADINGS):
        c, s = G.rotate(G.UNIT_COS, k)
        assert abs(c - G.L * math.cos(math.radians(15 * k))) <= 0.5
        assert abs(s - G.L * math.sin(math.radians(15 * k))) <= 0.5
        c, s = G.rotate(G.STEP_COS, k)
        assert abs(math.hypot(c, s) - 0.15 * 1024) < 1.0  # a 0.15 m step in every direction


# ------------------------------------------------------------------------------------------- determinism
def run(env, steps, seed=0):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    frames = [obs]
    for _ in range(steps):
        frames.append(env.step(rng.integers(0, 4, env.num_envs))[0])
    return np.stack(frames)


def test_determinism_and_seeding():
    a = run(envs.make("grid/oneroom", 4, seed=0), 50, seed=7)
    b = run(envs.make("grid/oneroom", 4, seed=123), 50, seed=7)  # reset(seed) overrides make's seed
    np.testing.assert_array_equal(a, b)
    c = run(envs.make("grid/oneroom", 4), 50, seed=8)
    assert not np.array_equal(a, c)
    # env i is seeded with seed + i: env 1 of seed 7 is env 0 of seed 8
    single = envs.make("grid/oneroom", 1)
    single.reset(seed=8)
    np.testing.assert_array_equal(single.render_all()[0], a[0, 1])


def test_task_names_and_placements():
    for name, task in zip(G.LAYOUTS, (G.ONEROOM, G.HALLWAY, G.FOURROOMS, G.WALLGAP)):
        assert task.name == f"grid/{name}"
    # placements stay in their regions: box and agent at least AGENT_R inside, never starting near the box
    for task in TASKS:
        env = envs.make(task, 64, seed=5)
        env.reset()
        layout = G.LAYOUTS[task.split("/")[1]]
        for i in range(64):
            ax, ay, heading, bx, by, t = env.get_state(i)
            assert t == 0 and (ax - bx) ** 2 + (ay - by) ** 2 >= G.NEAR ** 2
            for (x, y), regions in (((ax, ay), layout.agent_regions), ((bx, by), layout.box_regions)):
                assert any(x0 * G.TILE + G.AGENT_R <= x <= x1 * G.TILE - G.AGENT_R and
                           y0 * G.TILE + G.AGENT_R <= y <= y1 * G.TILE - G.AGENT_R for x0, y0, x1, y1 in regions)
            if task == "grid/hallway":
                assert heading in (21, 22, 23, 0, 1, 2, 3)  # within 45 degrees of the box's direction


# ------------------------------------------------------------------------------------------- geometry
def make_pair(task, **options):
    cpp, py = envs.make(task, 1, **options), envs.make(task, 1, backend="python", **options)
    cpp.reset(), py.reset()
    return cpp, py


def both(pair, fn):
    results = [fn(env) for env in pair]
    for r in results[1:]:
        if isinstance(r, tuple):
            assert_same_step(results[0], r)
        else:
            np.testing.assert_array_equal(results[0], r)
    return results[0]


def test_walls_block_and_moves_are_exact():
    pair = make_pair("grid/oneroom")
    x = G.TILE + G.AGENT_R + 5  # 5 units from touching the west wall, facing west
    for env in pair:
        env.set_state(0, [x, 5000, 12, 9000, 9000, 0])
    both(pair, lambda e: e.step(np.array([FORWARD])))
    assert [e.get_state(0) for e in pair] == [[x, 5000, 12, 9000, 9000, 1]] * 2  # blocked: did not move
    both(pair, lambda e: e.step(np.array([BACK])))
    assert pair[0].get_state(0)[:2] == [x + 154, 5000]
    both(pair, lambda e: e.step(np.array([LEFT])))
    assert pair[0].get_state(0)[2] == 13
    for _ in range(13):
        both(pair, lambda e: e.step(np.array([RIGHT])))
    assert pair[0].get_state(0)[2] == 0 and pair[1].get_state(0)[2] == 0


def test_doorway_lets_the_agent_through():
    pair = make_pair("grid/fourrooms", max_steps=100)
    # bottom-left room, in front of the doorway to the bottom-right room (tiles y 5..9), facing east
    start = [12 * G.TILE, 7 * G.TILE, 0, 5 * G.TILE, 25 * G.TILE, 0]
    for env in pair:
        env.set_state(0, start)
    for _ in range(20):
        both(pair, lambda e: e.step(np.array([FORWARD])))
    assert pair[0].get_state(0)[0] == 12 * G.TILE + 20 * 154  # 3 m east, now in the bottom-right room
    # the same walk one tile further north hits the door frame and stops before the wall
    start[1] = 9 * G.TILE
    for env in pair:
        env.set_state(0, start)
    for _ in range(20):
        both(pair, lambda e: e.step(np.array([FORWARD])))
    assert pair[0].get_state(0)[0] <= 13 * G.TILE - G.AGENT_R


def red_columns(frame):
    return np.flatnonzero(((frame[..., 0] > 150) & (frame[..., 1] < 60)).any(0))


def test_box_appears_where_it_is():
    pair = make_pair("grid/oneroom")
    centre = 11 * G.TILE
    for heading, side in [(0, "centre"), (2, "right"), (22, "left"), (12, None)]:
        for env in pair:  # the box 3 m east of the agent; heading 2 looks 30 degrees to its left
            env.set_state(0, [centre - 1536, centre, heading, centre + 1536, centre, 0])
        frame = both(pair, lambda e: e.render_all())[0]
        cols = red_columns(frame)
        if side is None:
            assert cols.size == 0  # facing away
        elif side == "centre":
            assert abs(cols.mean() - 39.5) < 1 and 0 < cols.size < 30
            rows = np.flatnonzero(((frame[..., 0] > 150) & (frame[..., 1] < 60)).any(1))
            assert rows.min() >= 30  # the box is lower than the camera: below the horizon
        elif side == "right":
            assert cols.min() > 40
        else:
            assert cols.max() < 40
    # closer is bigger
    for env in pair:
        env.set_state(0, [centre - 1300, centre, 0, centre + 1536, centre, 0])
    assert red_columns(both(pair, lambda e: e.render_all())[0]).size > cols.size


def test_top_down_shows_agent_heading_and_box():
    pair = make_pair("grid/oneroom", image_size=160, top_down=True)
    for env in pair:
        env.set_state(0, [3000, 3000, 0, 8000, 8000, 0])
    frame = both(pair, lambda e: e.render_all())[0]
    nose = np.argwhere((frame == G.AGENT_NOSE).all(-1))
    body = np.argwhere((frame == G.AGENT).all(-1))
    box = np.argwhere((frame == G.BOX_SIDE[0]).all(-1))
    assert nose.size and body.size and box.size
    assert nose[:, 1].mean() > body[:, 1].mean()  # heading 0 faces east: the nose is on the right
    assert box[:, 0].mean() < body[:, 0].mean() and box[:, 1].mean() > body[:, 1].mean()  # box north-east


# ------------------------------------------------------------------------------------------- episode ends
def near_box_state(t):
    # NEAR + 100 units west of the box, facing it: the next step forward (154 units) reaches it
    return [5000, 2560, 0, 5000 + G.NEAR + 100, 2560, t]


@pytest.mark.parametrize("t", [0, 127])
def test_reaching_the_box(t):
    pair = make_pair("grid/oneroom")
    for env in pair:
        env.set_state(0, near_box_state(t))
    obs, reward, terminated, truncated, infos = both(pair, lambda e: e.step(np.array([FORWARD])))
    assert terminated[0] and not truncated[0]  # on the last step too: reaching wins over the time limit
    assert reward[0] == np.float32(1 - 0.2 * (t + 1) / 128)
    assert infos["episode"]["success"][0] and infos["episode"]["r"][0] == reward[0]
    assert pair[0].get_state(0)[5] == 0  # autoreset: a new episode
    assert not np.array_equal(infos["final_obs"][0], obs[0])


def test_time_limit_truncates():
    pair = make_pair("grid/hallway", max_steps=5)
    for _ in range(4):
        out = both(pair, lambda e: e.step(np.array([LEFT])))
        assert not out[2][0] and not out[3][0] and not out[4]
    obs, reward, terminated, truncated, infos = both(pair, lambda e: e.step(np.array([LEFT])))
    assert truncated[0] and not terminated[0] and reward[0] == 0
    assert infos["episode"]["l"][0] == 5 and not infos["episode"]["success"][0]
    state = near_box_state(4)
    for env in pair:
        env.set_state(0, state)
    out = both(pair, lambda e: e.step(np.array([BACK])))  # the last step, moving away
    assert out[3][0] and not out[2][0]


def test_bad_states_are_rejected():
    for env in make_pair("grid/oneroom"):
        for bad in ([1, 2, 3], [100, 5000, 0, 9000, 9000, 0], [5000, 5000, 24, 9000, 9000, 0],
                    [5000, 5000, 0, 5500, 5000, 0], [5000, 5000, 0, 9000, 9000, 128]):
            with pytest.raises(ValueError):
                env.set_state(0, bad)


# ------------------------------------------------------------------------------------------- contract
def test_gymnasium_contract_and_errors():
    env = envs.make("grid/wallgap", 2, seed=1)
    assert env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
    assert env.single_observation_space.shape == (60, 80, 3) and env.observation_space.shape == (2, 60, 80, 3)
    assert env.single_action_space.n == 4 and env.action_symbols == G.SYMBOLS
    obs, _ = env.reset()
    assert obs.dtype == np.uint8 and obs.shape == (2, 60, 80, 3) and env.observation_space.contains(obs)
    with pytest.raises(IndexError):
        env.step(np.array([0, 4]))
    with pytest.raises(ValueError):
        env.step(np.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        env.step(np.array([0, 1, 2]))
    for bad in ({"colour": 1}, {"image_size": 16}, {"max_steps": 0}, {"top_down": 1}, {"shaping": -1}):
        with pytest.raises(ValueError):
            envs.make("grid/oneroom", 1, **bad)
    with pytest.raises(ValueError):
        envs.make("grid/maze", 1)
    assert envs.make("grid", 1).task.name == "grid/oneroom"


@pytest.mark.parametrize("task", ["grid/oneroom", "grid/fourrooms"])
def test_shaping_adds_the_progress_towards_the_box(task):
    """shaping=k adds k/100 per metre the step brought the agent closer to the box (minus when farther) to the
    sparse reward of the same env without shaping, stepped alike; the Python twin agrees bit for bit. Success
    is reaching the box, not a positive return."""
    k, n = 37, 3
    cpp, py, plain = (envs.make(task, n, seed=5, max_steps=40, shaping=s, backend=b)
                      for s, b in ((k, "cpp"), (k, "python"), (0, "cpp")))
    for env in (cpp, py, plain):
        env.reset()
    metres = lambda s: math.hypot(s[0] - s[3], s[1] - s[4]) / 1024  # from [ax, ay, heading, bx, by, t]
    rng, checked, successes, positive_truncations = np.random.default_rng(1), 0, 0, 0
    for step in range(200):
        if step % 20 == 0:
            put_next_to_box((cpp, py), step // 20 % n)
            plain.set_state(step // 20 % n, cpp.get_state(step // 20 % n))
        before = [metres(cpp.get_state(i)) for i in range(n)]
        actions = homing_actions([cpp.get_state(i) for i in range(n)], rng)
        out, sparse = cpp.step(actions), plain.step(actions)
        assert_same_step(out, py.step(actions))
        successes += int(out[2].sum())
        if out[4]:
            np.testing.assert_array_equal(out[4]["episode"]["success"], out[2])
            positive_truncations += int((out[3] & (out[4]["episode"]["r"] > 0)).sum())
        for i in np.flatnonzero(~(out[2] | out[3])):  # an ended episode's last state is gone (autoreset)
            assert out[1][i] - sparse[1][i] == pytest.approx(k / 100 * (before[i] - metres(cpp.get_state(i))), abs=1e-6)
            checked += out[1][i] != 0
    assert checked > 100 and successes > 0 and positive_truncations > 0


def test_prompt_history_matches_per_env_frame_lists():
    """Episodes end at different steps (successes among truncations): each env's prompt shows the frames
    of its own current episode (at most HISTORY, oldest first), prompt(final=True) those of the last one."""
    n = 8
    env = envs.make("grid/oneroom", n, seed=4, max_steps=12)
    obs, _ = env.reset()
    frames, finals, rng = [[o] for o in obs], [None] * n, np.random.default_rng(0)
    unsynced = 0  # steps at which the envs' current episodes have different lengths
    for _ in range(300):
        obs, _, _, _, infos = env.step(rng.choice(4, n, p=[0.2, 0.2, 0.6, 0.0]))
        for i in range(n):
            if infos and infos["_final_obs"][i]:
                finals[i], frames[i] = (frames[i] + [infos["final_obs"][i]])[-G.HISTORY:], []
                final, _ = env.prompt(i, final=True)
                assert len(final) == len(finals[i]) and all(map(np.array_equal, final, finals[i]))
            frames[i] = (frames[i] + [obs[i]])[-G.HISTORY:]
            images, _ = env.prompt(i)
            assert len(images) == len(frames[i]) and all(map(np.array_equal, images, frames[i]))
        unsynced += len({len(f) for f in frames}) > 1
    assert unsynced > 10


def test_prompt_history_and_parser():
    env = envs.make("grid/oneroom", 2, seed=0, max_steps=6)
    obs, _ = env.reset()
    images, text = env.prompt(0)
    assert len(images) == 1 and np.array_equal(images[0], obs[0])
    assert "red box" in text and all(f'"{s}"' in text for s in G.SYMBOLS)
    seen = [obs[0]]
    for step in range(5):
        obs = env.step(np.array([LEFT, RIGHT]))[0]
        seen.append(obs[0])
        images, _ = env.prompt(0)
        assert len(images) == min(step + 2, G.HISTORY)
        for got, want in zip(images, seen[-G.HISTORY:]):  # oldest first, the last is the current frame
            np.testing.assert_array_equal(got, want)
        with pytest.raises(ValueError):
            env.prompt(0, final=True)
    obs, _, _, truncated, infos = env.step(np.array([LEFT, RIGHT]))
    assert truncated.all()
    images, _ = env.prompt(0)
    assert len(images) == 1 and np.array_equal(images[0], obs[0])  # cleared at the episode end
    final, _ = env.prompt(0, final=True)
    assert len(final) == G.HISTORY and np.array_equal(final[-1], infos["final_obs"][0])
    np.testing.assert_array_equal(final[-2], seen[-1])
    top = envs.make("grid/oneroom", 1, top_down=True)
    top.reset()
    assert "from above" in top.prompt(0)[1] and "from above" not in text
    for reply, want in [('{"thoughts": "box ahead", "action": "move forward"}', (2, True)),
                        ('```json\n{"action": " turn left "}\n```', (0, True)),
                        ('"action": "move back"', (3, True)),
                        ('{"action": "jump"}', (-1, False)), ("", (-1, False))]:
        assert env.parse_action(reply) == want


def test_probe_reads_where_the_box_is_and_scores_a_checkpoint(tmp_path, capsys):
    """benchmarks/grid_probe.py: the box-position classifier on injected states, and the per-position action
    distribution of a (barely trained) grid checkpoint: one row per position seen, probabilities summing to 1."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import grid_probe
    import vldac
    env = envs.make("grid/oneroom", 4, seed=0)
    env.reset()
    centre = 11 * G.TILE
    for i, heading in enumerate([0, 2, 22, 12]):
        env.set_state(i, [centre - 1536, centre, heading, centre + 1536, centre, 0])
    assert [grid_probe.POSITIONS[k] for k in grid_probe.box_in_view(env.render_all())] == \
        ["centre", "right", "left", "not in view"]
    run_dir = tmp_path / "run"
    vldac.main(["--env", "grid", "--num-envs", "4", "--num-steps", "2", "--total-timesteps", "8", "--max-new-tokens",
                "8", "--format-warmup-steps", "2", "--perception-steps", "0", "--eval-every", "0", "--eval-episodes", "4", "--run-dir", str(run_dir)])
    capsys.readouterr()
    grid_probe.probe_checkpoint(run_dir, states=64)
    by_position, by_thought = capsys.readouterr().out.split("\n\n")
    rows = [line.split("|")[1:-1] for line in by_position.splitlines()[2:]]
    assert rows and {r[0].strip() for r in rows} <= set(grid_probe.POSITIONS)
    assert sum(int(r[1]) for r in rows) == 64 * 4  # 4 replies per state
    for r in rows:  # shares of the four actions and of invalid replies
        assert abs(sum(float(p) for p in r[2:7]) - 1) < 0.03 and 0 <= float(r[8]) <= 1
    rows = [line.split("|")[1:-1] for line in by_thought.splitlines()[2:]]
    assert {r[0].strip() for r in rows} <= {*G.VIEW_CAPTIONS, "anything else"}
    assert sum(int(r[1]) for r in rows) == 64 * 4  # the same replies
    assert all(abs(sum(float(p) for p in r[2:7]) - 1) < 0.03 for r in rows)


def test_bandit_rewards_the_scripted_action_and_runs_vldac_updates(capsys):
    """benchmarks/grid_probe.py --bandit: reward 1 exactly for "box in view: forward, else turn right", and one
    update of vldac.py's loop under it prints a row of accuracies."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import grid_probe
    where = np.array([0, 1, 2, 3])  # left, ahead, right, not in view
    assert grid_probe.bandit_reward(where, np.full(4, G.SYMBOLS.index("move forward"))).tolist() == [1, 1, 1, 0]
    assert grid_probe.bandit_reward(where, np.full(4, G.SYMBOLS.index("turn right"))).tolist() == [0, 0, 0, 1]
    assert grid_probe.bandit_reward(where, np.full(4, G.SYMBOLS.index("move back"))).tolist() == [0, 0, 0, 0]
    grid_probe.bandit(1, ["--num-envs", "4", "--format-warmup-steps", "2", "--max-new-tokens", "8"])
    row = capsys.readouterr().out.strip().splitlines()[-1].split("|")[1:-1]
    assert row[0].strip() == "1–1" and row[1].strip() == "32"  # 4 envs x 8 steps
    assert all(0 <= float(x) <= 1 for x in row[2:5]) and float(row[5]) >= 0


def test_scripted_reference_policies_read_the_box_off_the_frame():
    """benchmarks/grid_policies.py: a policy table row is chosen by where the box is. Steering toward the box
    always succeeds on these episodes; one that never looks (uniform random) mostly times out."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import grid_policies
    steer, n = grid_policies.success_rate("oneroom", grid_policies.POLICIES["turn toward the box, forward when ahead"],
                                          episodes=16, num_envs=8, seed=0)
    blind, _ = grid_policies.success_rate("oneroom", grid_policies.POLICIES["uniform random"], 16, 8, seed=0)
    assert n == 16 and steer == 1.0 and blind < 0.5
