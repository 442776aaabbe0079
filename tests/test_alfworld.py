"""ALFWorld on its real text engine with generated games: experts win, seeding, snapshots, errors, vldac."""
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("alfworld")
import envs  # noqa: E402
from envs.alfworld import TASK_TYPES, generate_game  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(receptacles=4, distractors=2)


def play(env, i, commands):
    """Step env i (of a 1-env batch) through commands; the episode info of the step that ended it."""
    for c in commands:
        assert c in env.actions(i), (c, env.actions(i))
        *_, infos = env.step([c])
        if infos:
            return infos
    return {}


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_generated_games_of_every_type_load_and_the_expert_wins(task_type):
    env = envs.make(f"alfworld/{task_type}", 1, seed=3)
    env.reset()
    for _ in range(8):
        plan = env.expert_commands(0)
        infos = play(env, 0, plan)
        assert infos["episode"]["success"][0] and infos["episode"]["l"][0] == len(plan) <= 50
        assert infos["episode"]["r"][0] == 1.0
    env.close()


def test_generation_is_seeded_and_varied():
    a, b = generate_game("pick_clean_then_place_in_recep", 11), generate_game("pick_clean_then_place_in_recep", 11)
    assert a == b and a["solvable"] and "UNKNOWN GOAL" not in a["grammar"]
    others = {generate_game("pick_clean_then_place_in_recep", s)["pddl_problem"] for s in range(12)}
    assert len(others) == 12
    with pytest.raises(ValueError, match="unknown ALFWorld task type"):
        generate_game("pick_and_place_with_movable_recep", 0)


def test_same_seed_same_observations_and_random_play_follows_the_rules():
    runs = []
    for _ in range(2):
        env, rng, seen = envs.make("alfworld/all", 2, seed=5, **SMALL), np.random.default_rng(0), []
        env.reset()
        for _ in range(30):
            seen.append([env.prompt(i)[1] for i in range(2)])
            assert all(env.prompt(i)[0] == [] and env.actions(i) for i in range(2))
            obs, rewards, term, trunc, infos = env.step([env.sample_action(i, rng) for i in range(2)])
            assert len(obs) == 2 and rewards.dtype == np.float32 and not (term & trunc).any()
            if infos:
                assert set(infos) == {"final_obs", "_final_obs", "episode", "_episode"}
        runs.append(seen)
        env.close()
    assert runs[0] == runs[1] and len({p for step in runs[0] for p in step}) > 10


def test_step_limit_truncates_and_autoresets_the_same_step():
    env = envs.make("alfworld/pick_and_place_simple", 1, seed=0, max_steps=3, **SMALL)
    env.reset()
    first = env.prompt(0)[1]
    for t in range(3):
        _, _, term, trunc, infos = env.step(["look"])
    assert trunc[0] and not term[0] and infos["episode"]["l"][0] == 3 and not infos["episode"]["success"][0]
    assert "> look" in env.prompt(0, final=True)[1] and env.prompt(0)[1] != first  # the next game, at its start
    with pytest.raises(ValueError, match="did not end"):
        env.step(["look"]) and env.prompt(0, final=True)


def test_prompt_shows_task_start_last_steps_and_commands_once():
    env = envs.make("alfworld/pick_and_place_simple", 1, seed=3, history=2, **SMALL)
    env.reset()
    game, start = env.games[0], env.observations[0]
    assert env.prompt(0)[1].count(start) == 1 and "Your last actions" not in env.prompt(0)[1]
    feedback = []
    for command in ("inventory", "look", "inventory"):
        env.step([command])
        feedback.append(game.observation)
    text = env.prompt(0)[1]
    assert f"Your task is to: {game.task}." in text and f"At the start: {start}" in text
    assert text.count("> ") == 2 and f"> look\n{feedback[1]}\n> inventory\nNow: {feedback[2]}\n" in text
    assert text.endswith(envs.text.command_format(env.actions(0)))


@pytest.mark.parametrize("numbered", [1, 2])
def test_numbered_commands_are_named_by_number_and_play_the_same_game(numbered):
    """numbered=1 / 2: the prompt lists "k: <command>" in the engine's / a random order, actions(i) are the
    numbers, a reply names one (or the command), and the game is the one the plain env plays."""
    plain, env = (envs.make("alfworld/pick_and_place_simple", 1, seed=3, numbered=n, **SMALL) for n in (0, numbered))
    plain.reset(), env.reset()
    in_engine_order = []
    for command in plain.expert_commands(0)[:3]:
        listing = env.prompt(0)[1].split("Admissible commands: ")[1].split(".\nReply")[0].split("; ")
        numbers, listed = zip(*(item.split(": ", 1) for item in listing))
        assert numbers == env.actions(0) == tuple(str(k) for k in range(1, len(listed) + 1))
        assert sorted(listed) == sorted(plain.actions(0))
        k = listed.index(command) + 1
        assert env.parse_action(f'{{"action": "{k}"}}', 0) == (k - 1, True) == env.parse_action(f'{{"action": "{command}"}}', 0)
        assert env.parse_action(f'{{"action": "{len(listed) + 1}"}}', 0) == (-1, False)
        in_engine_order.append(listed == plain.actions(0))
        plain.step([command]), env.step([k - 1])
        assert plain.observations == env.observations
    assert all(in_engine_order) if numbered == 1 else not any(in_engine_order)
    restored = envs.make("alfworld/pick_and_place_simple", 1, seed=0, numbered=numbered, **SMALL)
    restored.reset(), restored.set_snapshot(env.get_snapshot())
    assert restored.prompt(0) == env.prompt(0) and restored.actions(0) == env.actions(0)


def test_shaping_pays_each_subgoal_and_the_win_pays_the_rest():
    """shaping=10: 0.1 per subgoal reached (take, heat; for pick_two also each object placed), given back
    when the object leaves the hand; shaping=0 is the plain reward (1 at the win)."""
    shaped = {}
    for task_type in ("pick_heat_then_place_in_recep", "pick_two_obj_and_place"):
        for k in (0, 10):
            env = envs.make(f"alfworld/{task_type}", 1, seed=3, shaping=k, **SMALL)
            env.reset()
            shaped[task_type, k] = [float(env.step([c])[1][0]) for c in env.expert_commands(0)]
    for task_type, subgoals in (("pick_heat_then_place_in_recep", [-0.2, 0.1, 0.1]),
                                ("pick_two_obj_and_place", [0.1, 0.1, 0.1, 0.1])):
        plain, bonus = shaped[task_type, 0], np.subtract(shaped[task_type, 10], shaped[task_type, 0])
        assert plain == [0.0] * (len(plain) - 1) + [1.0]
        assert sorted(bonus[np.abs(bonus) > 1e-6].round(6)) == subgoals


def test_vocabulary_names_every_word_the_commands_use():
    """The built-in model's tokenizer is trained on env.vocabulary: every word of every command met in random
    play (all task types) but the numbers is in it, so no name is split into pieces the corpus never saw."""
    env, rng = envs.make("alfworld/all", 6, seed=4, **SMALL), np.random.default_rng(0)
    env.reset()
    words, seen = {w for phrase in env.vocabulary for w in phrase.split()}, set()
    for _ in range(25):
        seen |= {w for i in range(6) for c in env.actions(i) for w in c.split() if not w.isdigit()}
        env.step([env.sample_action(i, rng) for i in range(6)])
    assert len(seen) > 30 and seen <= words


def test_snapshot_mid_episode_resumes_exactly():
    env, rng = envs.make("alfworld/all", 3, seed=9, **SMALL), np.random.default_rng(1)
    env.reset()
    for _ in range(7):
        env.step([env.sample_action(i, rng) for i in range(3)])
    snap = env.get_snapshot()
    json.dumps(snap)  # plain data
    twin = envs.make("alfworld/all", 3, seed=0, **SMALL)
    twin.set_snapshot(snap)
    for _ in range(12):
        assert [twin.prompt(i)[1] for i in range(3)] == [env.prompt(i)[1] for i in range(3)]
        acts = [env.sample_action(i, rng) for i in range(3)]
        a, b = env.step(acts), twin.step(acts)
        assert np.array_equal(a[1], b[1]) and a[0] == b[0] and np.array_equal(a[3], b[3])
    for bad in ({**snap, "num_envs": 2}, {**snap, "commands": [["look"]] * 2}, {**snap, "extra": 1}, "x"):
        with pytest.raises(ValueError):
            twin.set_snapshot(bad)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="receptacles"):
        envs.make("alfworld/all", 1, receptacles=1)
    with pytest.raises(ValueError, match="unknown option"):
        envs.make("alfworld/all", 1, rooms=3)
    env = envs.make("alfworld/pick_and_place_simple", 1, **SMALL)
    with pytest.raises(RuntimeError):
        env.step(["look"])
    env.reset()
    with pytest.raises(IndexError):
        env.step([99])
    with pytest.raises(ValueError):
        env.step(["look", "look"])
    with pytest.raises(ValueError):
        env.step([1.5])
    _, r, *_ = env.step(["fly to the moon"])  # not admissible: the engine says nothing happens
    assert r[0] == 0 and env.observations[0] == "Nothing happens."


def test_downloaded_layout_plays_through_alfworld_data(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="ALFWORLD_DATA"):
        monkeypatch.delenv("ALFWORLD_DATA", raising=False)
        envs.make("alfworld/valid_seen", 1)
    for k in range(3):  # ALFWorld's layout: <split>/<task>/<trial>/game.tw-pddl + traj_data.json
        game = generate_game(TASK_TYPES[k], k, **SMALL)
        trial = tmp_path / "json_2.1.1" / "valid_seen" / f"{TASK_TYPES[k]}-x" / f"trial_{k}"
        trial.mkdir(parents=True)
        game["grammar"] = game["grammar"].replace(game["task"], "UNKNOWN GOAL")
        (trial / "game.tw-pddl").write_text(json.dumps({key: game[key] for key in ("pddl_domain", "grammar", "pddl_problem", "solvable")}))
        (trial / "traj_data.json").write_text(json.dumps(game["traj_data"]))
    monkeypatch.setenv("ALFWORLD_DATA", str(tmp_path))
    tasks = []
    for global_seed in (1, 2):  # the task sentences come from the env's seed, not from the global `random`
        random.seed(global_seed)
        env = envs.make("alfworld/valid_seen", 8, seed=0)
        env.reset()
        tasks.append([env.games[i].task for i in range(8)])
    assert all(t and "UNKNOWN" not in t for t in tasks[0]) and tasks[0] == tasks[1]
    assert env.actions(0)


def test_vldac_trains_on_text_only_prompts(tmp_path):
    import vldac
    run = tmp_path / "run"
    m = vldac.main(["--env", "alfworld", "--task", "pick_and_place_simple", "--env-options", "receptacles=2,distractors=0",
                    "--num-envs", "4", "--num-steps", "2", "--total-timesteps", "16", "--num-minibatches", "2",
                    "--format-warmup-steps", "30", "--max-new-tokens", "48", "--eval-every", "0", "--eval-episodes", "4",
                    "--transcripts-every", "1", "--run-dir", str(run)])
    assert np.isfinite(m["losses/value_loss"]) and abs(m["losses/initial_ratio_dev"]) < 1e-4
    line = json.loads((run / "transcripts.jsonl").read_text().splitlines()[0])
    assert "Admissible commands:" in line["prompt"] and isinstance(line["action"], int)


def test_hub_layout_checkpoint_trains_on_text_only_prompts(tmp_path):
    """A tiny Qwen2-VL folder laid out like a hub download (LoRA on by default): prompts with no image
    go through its processor and chat template, and the update is PPO-exact."""
    import vldac
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_tiny_checkpoint import make_tiny_checkpoint
    run = tmp_path / "run"
    m = vldac.main(["--model", str(make_tiny_checkpoint(tmp_path / "qwen2_vl", "qwen2_vl")), "--env", "alfworld",
                    "--task", "pick_and_place_simple", "--env-options", "receptacles=2,distractors=0", "--num-envs", "2",
                    "--num-steps", "2", "--total-timesteps", "8", "--num-minibatches", "2", "--max-new-tokens", "8",
                    "--eval-every", "0", "--eval-episodes", "2", "--transcripts-every", "1", "--run-dir", str(run)])
    args = json.loads((run / "args.json").read_text())
    assert args["lora"] and np.isfinite(m["losses/value_loss"]) and abs(m["losses/initial_ratio_dev"]) < 1e-4
    assert "Admissible commands:" in json.loads((run / "transcripts.jsonl").read_text().splitlines()[0])["prompt"]
