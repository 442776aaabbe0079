"""ALFWorld on its own text engine, offline: the `alfworld` package's PDDL domain (alfred.pddl) and text
grammar (alfred.twl2), played through TextWorld's PddlEnv with ALFWorld's name demangler, on games made
by a seeded generator (or on the downloaded ALFWorld games, when $ALFWORLD_DATA holds them).

    envs.make("alfworld/pick_and_place_simple", 16, seed=0, receptacles=4, distractors=0)
    envs.make("alfworld/all", 16)                      # the six task types, mixed
    envs.make("alfworld/valid_seen", 16)               # $ALFWORLD_DATA/json_2.1.1/valid_seen/**/game.tw-pddl

The generator (generate_game) writes problems like ALFWorld's: a room of one of ALFRED's floor plans
(alfworld/gen/layouts: which receptacles it has, which objects occur in it) of a room type the task type
occurs in (alfworld/gen/constants.py GOALS_VALID), ALFRED's object names and ids, which receptacle can
hold what (VAL_RECEPTACLE_OBJECTS), what can be cleaned / heated / cooled (VAL_ACTION_OBJECTS), openable
receptacles closed, the goal from ALFRED's goal library and its task sentence. Difficulty knobs:
`receptacles` (how many of the room's receptacles exist; the ones the task needs always do) and
`distractors` (extra objects). Every game comes with its expert plan (`walkthrough`), built with the game
(the generator knows where everything is) and checked by the tests to win on the engine.

More options (all off by default): `numbered=1` lists the commands as "1: go to ...; 2: ..." and the reply
names a number (2: in a fresh random order every step, so that a number alone says nothing; see
envs/textact.py); `shaping=k` adds k/100 per subgoal reached (AlfworldGame.progress: the goal's object held,
cleaned / heated / cooled, placed) and takes it back when the subgoal is undone, potential-based, so the
return of an episode changes by at most k/100 x the progress it keeps; success is still the engine's win.

Differences from the released ALFWorld: the rooms are ALFRED's floor plans but the object placements are
sampled, not taken from ALFRED's recorded scenes; task sentences are the templated ones (no human
annotations); look_at_obj_in_light uses a desk lamp standing on a desk, side table or dresser; the movable-
receptacle and sliced task variants are excluded, as ALFWorld's own loader excludes them.
"""
import json
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from .textact import TextActionEnv, TextGame, derive_seed, int_options

TASK_TYPES = ("pick_and_place_simple", "look_at_obj_in_light", "pick_clean_then_place_in_recep",
              "pick_heat_then_place_in_recep", "pick_cool_then_place_in_recep", "pick_two_obj_and_place")
SPLITS = ("train", "valid_seen", "valid_unseen", "valid_train")
TOOL = {"pick_clean_then_place_in_recep": ("SinkBasin", "clean"), "pick_heat_then_place_in_recep": ("Microwave", "heat"),
        "pick_cool_then_place_in_recep": ("Fridge", "cool")}
ABILITY = {"clean": "Cleanable", "heat": "Heatable", "cool": "Coolable"}
LAMP, LAMP_HOLDERS = "DeskLamp", ("Desk", "SideTable", "Dresser")
DOMAIN_OTYPES, DOMAIN_RTYPES = {"KnifeType", "ButterKnifeType"}, {"SinkBasinType", "MicrowaveType", "FridgeType"}  # alfred.pddl names them
OPTIONS = {"receptacles": (12, 2, 60), "distractors": (6, 0, 60), "max_steps": (50, 1, 1000), "history": (2, 0, 50),
           "numbered": (0, 0, 2), "shaping": (0, 0, 1000)}
DONE_TO = {"pick_clean_then_place_in_recep": "isclean", "pick_heat_then_place_in_recep": "ishot",
           "pick_cool_then_place_in_recep": "iscool"}  # the engine's fact for what the task does to the object
RULES = ("You are in a household. Reach the goal with text commands: go to a receptacle, open and close it, "
         "take an object from it and move it to another, heat, cool or clean an object with the microwave, "
         "fridge or sink basin, use a lamp.")


def _alfworld():
    try:
        import alfworld.gen.constants as constants
        from alfworld.gen import goal_library
    except ImportError as e:
        raise ImportError("the ALFWorld env needs the alfworld package: pip install -e '.[alfworld]'") from e
    return constants, goal_library


@lru_cache(maxsize=1)
def logic() -> tuple[str, str]:
    """(PDDL domain text, grammar text) shipped in the alfworld wheel."""
    constants, _ = _alfworld()
    data = Path(constants.__file__).resolve().parents[1] / "data"
    return (data / "alfred.pddl").read_text(), (data / "alfred.twl2").read_text()


def mangle(alfred_id: str) -> str:
    """ALFRED's object id ('Apple|-01.00|+00.95|+01.00') as ALFWorld writes it into PDDL."""
    for a, b in (("|", "_bar_"), ("-", "_minus_"), ("+", "_plus_"), (".", "_dot_"), (",", "_comma_")):
        alfred_id = alfred_id.replace(a, b)
    return alfred_id


def receptacle_type(alfred_id: str) -> str:
    parts = alfred_id.split("|")
    return "SinkBasin" if parts[-1] == "SinkBasin" else "BathtubBasin" if parts[-1] == "BathtubBasin" else parts[0]


@lru_cache(maxsize=None)
def rooms(task_type: str) -> tuple:
    """(scene, receptacle ids, object classes, target candidates) for every floor plan the task type can be
    generated in; a candidate is (object class, parent receptacle type, ids of receptacles it can start in)."""
    constants, _ = _alfworld()
    valid = {n for kind in constants.GOALS_VALID[task_type] for n in constants.SCENE_TYPE[kind]}
    can_hold = constants.VAL_RECEPTACLE_OBJECTS
    layouts = Path(constants.__file__).parent / "layouts"
    out = []
    for n in sorted(valid):
        recs_file, objs_file = layouts / f"FloorPlan{n}-openable.json", layouts / f"FloorPlan{n}-objects.json"
        if not recs_file.exists():
            continue
        receptacles = sorted(json.loads(recs_file.read_text()))
        kinds = {receptacle_type(r) for r in receptacles}
        present = set(json.loads(objs_file.read_text()))
        holdable = set().union(*can_hold.values())
        objects = sorted(o for o in present & holdable if o not in constants.RECEPTACLES or o in constants.MOVABLE_RECEPTACLES)
        tool, verb = TOOL.get(task_type, (None, None))
        if task_type == "look_at_obj_in_light" and not (LAMP in present and kinds & set(LAMP_HOLDERS)):
            continue
        candidates = []
        for obj in objects:
            if tool and (tool not in kinds or obj not in constants.VAL_ACTION_OBJECTS[ABILITY[verb]]):
                continue
            parents = [None] if task_type == "look_at_obj_in_light" else \
                sorted(k for k in kinds if obj in can_hold.get(k, ()) and k != tool)
            for parent in parents:
                starts = tuple(r for r in receptacles if obj in can_hold.get(receptacle_type(r), ())
                               and receptacle_type(r) != parent)
                if starts:
                    candidates.append((obj, parent, starts))
        if candidates:
            out.append((n, tuple(receptacles), tuple(objects), tuple(candidates)))
    return tuple(out)


def _object_id(cls, rng, used):
    while True:
        xyz = rng.uniform(-3, 3, size=3)
        alfred_id = f"{cls}|" + "|".join(f"{v:+06.2f}" for v in xyz)
        if alfred_id not in used:
            used.add(alfred_id)
            return alfred_id


def task_sentence(task_type: str, params: dict, rng: np.random.Generator) -> str:
    """ALFWorld's templated task sentence for a game's pddl_params, the template drawn from rng."""
    templates = _alfworld()[1].gdict[task_type]["templates"]
    names = {key: params[f"{field}_target"].lower()
             for key, field in (("obj", "object"), ("recep", "parent"), ("toggle", "toggle"), ("mrecep", "mrecep"))}
    return templates[rng.integers(len(templates))].format(**names)


def generate_game(task_type: str, seed: int, receptacles: int = 12, distractors: int = 6) -> dict:
    """A solvable ALFWorld game of `task_type` (one of TASK_TYPES), the same for the same arguments: the
    tw-pddl dict (pddl_domain, grammar, pddl_problem, walkthrough with ALFRED ids in place of names, solvable)
    plus `task` (the task sentence) and `traj_data` (task_type and pddl_params, as in ALFWorld's traj_data.json)."""
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown ALFWorld task type {task_type!r}; known: {', '.join(TASK_TYPES)}")
    constants, goals = _alfworld()
    rng = np.random.default_rng(seed)
    scenes = rooms(task_type)
    scene, all_recs, scene_objects, candidates = scenes[rng.integers(len(scenes))]
    obj, parent, starts = candidates[rng.integers(len(candidates))]
    tool, verb = TOOL.get(task_type, (None, None))
    by_type = {}
    for r in all_recs:
        by_type.setdefault(receptacle_type(r), []).append(r)
    pick = lambda ids: ids[rng.integers(len(ids))]  # noqa: E731
    count = 2 if task_type == "pick_two_obj_and_place" else 1
    sources = [pick(starts) for _ in range(count)]
    needed = list(dict.fromkeys(sources + [pick(by_type[t]) for t in (parent, tool) if t]))
    lamp_holder = None
    if task_type == "look_at_obj_in_light":
        lamp_holder = pick([r for r in all_recs if receptacle_type(r) in LAMP_HOLDERS])
        needed = list(dict.fromkeys(needed + [lamp_holder]))
    others = [r for r in all_recs if r not in needed]
    extra = max(0, min(receptacles - len(needed), len(others)))
    chosen = needed + [others[k] for k in sorted(rng.choice(len(others), extra, replace=False))] if extra else needed
    used, placed = set(all_recs), []  # (object id, receptacle id)
    targets = [_object_id(obj, rng, used) for _ in range(count)]
    placed += list(zip(targets, sources))
    if lamp_holder:
        placed.append((_object_id(LAMP, rng, used), lamp_holder))
    for _ in range(distractors):  # never an object of the target class in a receptacle of the goal's type
        r = chosen[rng.integers(len(chosen))]
        fits = [o for o in scene_objects if o in constants.VAL_RECEPTACLE_OBJECTS.get(receptacle_type(r), ())
                and not (o == obj and receptacle_type(r) == parent)]
        if fits:
            placed.append((_object_id(fits[rng.integers(len(fits))], rng, used), r))

    # the PDDL problem
    otypes = sorted({o.split("|")[0] + "Type" for o, _ in placed} | DOMAIN_OTYPES)
    rtypes = sorted({receptacle_type(r) + "Type" for r in chosen} | DOMAIN_RTYPES)
    loc = {r: f"loc_bar_{k}_bar_{int(rng.integers(-9, 9))}_bar_{int(rng.integers(4))}_bar_30" for k, r in enumerate(chosen)}
    start = "loc_bar_start_bar_0_bar_0_bar_0"
    facts = [f"(atLocation agent1 {start})"]
    for r in chosen:
        m, t = mangle(r), receptacle_type(r)
        facts += [f"(receptacleType {m} {t}Type)", f"(receptacleAtLocation {m} {loc[r]})"]
        if t in constants.OPENABLE_CLASS_SET:
            facts.append(f"(openable {m})")
    for o, r in placed:
        m, cls = mangle(o), o.split("|")[0]
        facts += [f"(objectType {m} {cls}Type)", f"(inReceptacle {m} {mangle(r)})", f"(objectAtLocation {m} {loc[r]})"]
        facts += ["(toggleable {})".format(m)] if cls == LAMP else [f"(pickupable {m})"]
        facts += [f"({a.lower()} {m})" for a in ("Cleanable", "Heatable", "Coolable") if cls in constants.VAL_ACTION_OBJECTS[a]]
    facts += [f"(canContain {rt} {ot})" for rt in rtypes for ot in otypes
              if ot[:-4] in constants.VAL_RECEPTACLE_OBJECTS.get(rt[:-4], ())]
    objects = ([f"{mangle(r)} - receptacle" for r in chosen] + [f"{mangle(o)} - object" for o, _ in placed]
               + [f"{t} - otype" for t in otypes] + [f"{t} - rtype" for t in rtypes]
               + [f"{loc[r]} - location" for r in chosen] + [f"{start} - location", "agent1 - agent"])
    toggle = LAMP if lamp_holder else ""
    goal = goals.gdict[task_type]["pddl"].format(obj=obj, recep=parent or "", toggle=toggle).replace("#", "-")
    problem = (f"(define (problem plan_generated_{scene})\n(:domain alfred)\n(:objects\n  " + "\n  ".join(objects)
               + "\n)\n(:init\n  " + "\n  ".join(facts) + "\n)\n" + goal.strip() + "\n")
    params = {"object_target": obj, "parent_target": parent or "", "toggle_target": toggle, "mrecep_target": "",
              "object_sliced": False}
    task = task_sentence(task_type, params, rng)
    domain, grammar = logic()

    # the expert plan, with ALFRED ids for names (AlfworldGame maps them to the demangled names)
    openable = lambda r: receptacle_type(r) in constants.OPENABLE_CLASS_SET  # noqa: E731
    plan, at, opened = [], None, set()

    def go(r, open_it=True):
        nonlocal at
        if at != r:
            plan.append(f"go to {{{r}}}")
            at = r
        if open_it and openable(r) and r not in opened:
            plan.append(f"open {{{r}}}")
            opened.add(r)

    target_recep = next((r for r in needed if receptacle_type(r) == parent), None)
    tool_recep = next((r for r in needed if receptacle_type(r) == tool), None)
    for o, src in zip(targets, sources):
        go(src)
        plan.append(f"take {{{o}}} from {{{src}}}")
        if tool:  # the sink, microwave or fridge works closed
            go(tool_recep, open_it=False)
            plan.append(f"{verb} {{{o}}} with {{{tool_recep}}}")
        if lamp_holder:
            go(lamp_holder, open_it=False)
            plan.append(f"use {{{placed[count][0]}}}")
        else:
            go(target_recep)
            plan.append(f"move {{{o}}} to {{{target_recep}}}")
    return {"pddl_domain": domain, "grammar": grammar.replace("UNKNOWN GOAL", task), "pddl_problem": problem,
            "walkthrough": plan, "solvable": True, "task": task,
            "traj_data": {"task_type": task_type, "pddl_params": params, "scene_num": int(scene)}}


@lru_cache(maxsize=4)
def game_logic(domain: str, grammar: str):
    """TextWorld's parsed domain + grammar: the same for every game once the task sentence is taken out."""
    from textworld.envs.pddl import logic as pddl_logic
    return pddl_logic.GameLogic(domain=domain, grammar=grammar)


TASK_RULE = re.compile(r"Your task is to: ([^\"]*?)\.?\"")


def engine():
    """AlfredDemangler(PddlEnv) as ALFWorld builds it, but with the parsed domain + grammar cached per
    process (parsing them is half of a reset's cost)."""
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
    from textworld import EnvInfos
    from textworld.envs.pddl import PddlEnv
    from textworld.envs.pddl import logic as pddl_logic

    class CachedLogicPddlEnv(PddlEnv):
        def load(self, data):
            self._game_data, self._game_file, self.walkthrough = data, None, data.get("walkthrough")
            self._logic = game_logic(data["pddl_domain"], data["grammar"])
            self._pddl_state = pddl_logic.PddlState(self.downward_lib, data["pddl_problem"], self._logic)
            self._entity_infos = self._get_entity_infos()
    return AlfredDemangler(CachedLogicPddlEnv(EnvInfos(admissible_commands=True, won=True)))


class AlfworldGame(TextGame):
    """One ALFWorld game on TextWorld's PddlEnv + ALFWorld's AlfredDemangler; reward 1 when won.

    shaping k (off by default): each step also earns k/100 x the change of progress(), the subgoals reached
    (potential-based shaping: over an episode it adds up to k/100 x the progress kept; success is still won)."""

    def __init__(self, source, shaping=0):
        self.source, self.shaping = source, shaping  # source: seed -> tw-pddl dict
        self.engine, self.game, self.facts = engine(), None, ()

    def reset(self, seed):
        self.game = self.source(seed)
        match = TASK_RULE.search(self.game["grammar"])
        self.task = match.group(1) if match else ""
        self.engine.load({**self.game, "grammar": TASK_RULE.sub('Your task is to: UNKNOWN GOAL."', self.game["grammar"], 1)})
        state = self.engine.reset()
        intro = state["feedback"].rpartition("Your task is to: ")[0]
        self.observation = self.start = intro.replace("-= Welcome to TextWorld, ALFRED! =-", "").strip()
        self._update(state)

    def _update(self, state):  # "help" prints the command list the prompt already has: not offered
        self.commands = tuple(c for c in state["admissible_commands"] if c != "help")
        self.done = self.success = bool(state["won"])
        self.facts = state["_facts"]

    def step(self, command):
        before = self.progress() if self.shaping else 0
        state, _, _ = self.engine.step(command)
        self.observation = state["feedback"].strip()
        self._update(state)
        return float(self.success) + (self.shaping / 100.0 * (self.progress() - before) if self.shaping else 0.0)

    def progress(self) -> int:
        """Subgoals of the task reached now, read off the engine's facts: an object of the goal's type held
        (1), and cleaned / heated / cooled if the task asks it (1); for pick_two, 2 per object of the goal's
        type already in a receptacle of the goal's type."""
        traj = self.game["traj_data"]
        params, task_type = traj["pddl_params"], traj["task_type"]
        otype, rtype = params["object_target"].lower() + "type", params["parent_target"].lower() + "type"
        args = [(f.name, [a.name for a in f.arguments]) for f in self.facts]
        goal_objects = {a[0] for name, a in args if name == "objecttype" and a[1] == otype}
        held = {a[1] for name, a in args if name == "holds"} & goal_objects
        done = {a[0] for name, a in args if name == DONE_TO.get(task_type)} & held
        placed = 0
        if task_type == "pick_two_obj_and_place":
            targets = {a[0] for name, a in args if name == "receptacletype" and a[1] == rtype}
            placed = sum(name == "inreceptacle" and a[0] in goal_objects and a[1] in targets for name, a in args)
        return len(held) + len(done) + 2 * placed

    def expert_commands(self) -> list[str]:
        """The game's expert plan from the start of the episode, as commands (names demangled)."""
        names = {info.id: info.name for info in self.engine._entity_infos.values()}
        plan = self.game.get("walkthrough") or []
        out = []
        for step in plan:
            for alfred_id in [part.split("}")[0] for part in step.split("{")[1:]]:
                step = step.replace("{" + alfred_id + "}", names[mangle(alfred_id).lower()])
            out.append(step)
        return out

    def close(self):
        self.engine.close()


def data_games(split: str) -> list[Path]:
    """The solvable games of a downloaded ALFWorld split (as ALFWorld's own loader selects them)."""
    root = os.environ.get("ALFWORLD_DATA")
    if not root:
        raise ValueError(f"alfworld/{split} plays the downloaded ALFWorld games: set ALFWORLD_DATA to their folder")
    base = Path(root) / "json_2.1.1" / split
    games = []
    for game in sorted(base.rglob("game.tw-pddl")):
        if "movable" in str(game) or "Sliced" in str(game) or not (game.parent / "traj_data.json").exists():
            continue
        if json.loads(game.read_text()).get("solvable"):
            games.append(game)
    if not games:
        raise ValueError(f"no solvable ALFWorld games under {base}")
    return games


class AlfworldEnv(TextActionEnv):
    """N ALFWorld games; env i's k-th episode is the game of seed derive_seed(seed + i, k)."""

    rules = RULES

    def __init__(self, name, num_envs, seed, options):
        self.kind = name.split("/", 1)[1]
        self.games_list = data_games(self.kind) if self.kind in SPLITS else None
        super().__init__(name, num_envs, seed, options)

    def new_game(self):
        return AlfworldGame(self.game_for, self.options["shaping"])

    def game_for(self, seed):
        if self.games_list is not None:
            path = self.games_list[seed % len(self.games_list)]
            game = json.loads(path.read_text())
            traj = json.loads((path.parent / "traj_data.json").read_text())  # ALFWorld's own helper draws from `random`
            game["grammar"] = game["grammar"].replace("UNKNOWN GOAL", task_sentence(traj["task_type"], traj["pddl_params"],
                                                                                    np.random.default_rng(seed)))
            return {**game, "traj_data": traj}
        task_type = TASK_TYPES[derive_seed(seed, 1) % 6] if self.kind == "all" else self.kind
        return generate_game(task_type, seed, self.options["receptacles"], self.options["distractors"])

    @property
    def vocabulary(self) -> tuple:
        """Command-shaped phrases naming every receptacle and object class this env's games can hold (the
        built-in model's tokenizer is trained on them, so that names are whole tokens)."""
        kinds = TASK_TYPES if self.kind in SPLITS or self.kind == "all" else (self.kind,)
        scenes = [room for t in kinds for room in rooms(t)]
        places = sorted({receptacle_type(r).lower() for room in scenes for r in room[1]})
        things = sorted({o.lower() for room in scenes for o in room[2]})
        verbs = (("take", " from"), ("put", " in/on"), ("move", " to"), ("examine", ""), ("use", ""),
                 ("heat", " with"), ("cool", " with"), ("clean", " with"))
        return ("inventory", "look", f"use {LAMP.lower()} 1",
                *(f"{verb} {r} 1" for verb in ("go to", "open", "close", "examine") for r in places),
                *(f"{verb} {o} 1{tail}" for verb, tail in verbs for o in things))

    def expert_commands(self, i: int) -> list[str]:
        """Env i's expert plan for its current episode, from the episode's start (tests, benchmarks)."""
        return self.games[i].expert_commands()


def maker(kind):
    def make(num_envs, seed=0, backend="cpp", **options):
        """ALFWorld has one backend (its engine); `backend` is accepted for envs.make's signature.
        `image_size` is ignored: the prompts are text."""
        name = f"alfworld/{kind}"
        return AlfworldEnv(name, num_envs, seed, int_options(name, options, OPTIONS))
    return make


KINDS = (*TASK_TYPES, "all", *SPLITS)
globals().update({f"make_{kind}": maker(kind) for kind in KINDS})  # envs.TASKS names these
