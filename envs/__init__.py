"""Environments for vldac: envs.make("family/task", num_envs, seed, backend, **options).

Every task is a gymnasium VectorEnv with same-step autoreset, plus prompt(i, final), actions(i),
sample_action(i, rng) and parse_action(text, i) for the VLM (see envs/base.py for the contract and how to
add a task; envs/textact.py for text-action envs, whose legal actions change every step).
"""
import importlib

# "family/task" -> "module:attribute", imported on first use so a family's dependencies load only when
# it is made. The attribute is a base.Task or any callable with the signature of Task.make.
TASKS = {
    "gymcards/numberline": "envs.gymcards:NUMBERLINE",
    "gymcards/blackjack": "envs.gymcards:BLACKJACK",
    "gymcards/ezpoints": "envs.formula:EZPOINTS",
    "gymcards/points24": "envs.formula:POINTS24",
    "grid/oneroom": "envs.grid:ONEROOM",
    "grid/hallway": "envs.grid:HALLWAY",
    "grid/fourrooms": "envs.grid:FOURROOMS",
    "grid/wallgap": "envs.grid:WALLGAP",
    "miniworld/OneRoom": "envs.miniworld:ONEROOM",
    "miniworld/Hallway": "envs.miniworld:HALLWAY",
    "miniworld/FourRooms": "envs.miniworld:FOURROOMS",
    "miniworld/WallGap": "envs.miniworld:WALLGAP",
    **{f"alfworld/{kind}": f"envs.alfworld:make_{kind}" for kind in (
        "pick_and_place_simple", "look_at_obj_in_light", "pick_clean_then_place_in_recep", "pick_heat_then_place_in_recep",
        "pick_cool_then_place_in_recep", "pick_two_obj_and_place", "all", "train", "valid_seen", "valid_unseen", "valid_train")},
    "webshop/train": "envs.webshop:make_train",  # training goals
    "webshop/test": "envs.webshop:make_test",  # the 500 held-out goals
}
# family -> task used when a bare family name is given
DEFAULT_TASKS = {"gymcards": "numberline", "grid": "oneroom", "miniworld": "OneRoom", "alfworld": "all", "webshop": "train"}


def make(name: str, num_envs: int, seed: int = 0, backend: str = "cpp", **options):
    """A batched env for `name` ("family/task", or a family for its default task).

    num_envs copies; env i is seeded with seed + i. backend "cpp" (fast) or "python" (the reference twin).
    Unknown names, backends or options and num_envs < 1 raise ValueError.
    """
    if isinstance(name, str) and name in DEFAULT_TASKS:
        name = f"{name}/{DEFAULT_TASKS[name]}"
    if name not in TASKS:
        raise ValueError(f"unknown env {name!r}; known: {', '.join(sorted(TASKS))}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
    module, attr = TASKS[name].split(":")
    task = getattr(importlib.import_module(module), attr)
    return (task.make if hasattr(task, "make") else task)(num_envs, seed=seed, backend=backend, **options)
