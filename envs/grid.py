"""Grid navigation worlds, pure-Python reference: MiniWorld's Hallway, OneRoom, FourRooms and WallGap
("go to the red box") on a tile map, with the same actions, time limit, reward and prompt as
envs/miniworld.py, seen first person through a raycaster or from above. The C++ twin is csrc/grid.hpp.

Everything is integer arithmetic so both languages agree bit for bit: positions are in fixed-point units
(1 m = 1024 units, a tile is 0.5 m = 512 units), headings are multiples of 15 degrees (HEADINGS = 24)
with cos/sin from small integer tables, and the raycaster compares ray parameters t = num/den by
cross-multiplication. Sizes follow MiniWorld: the agent is a disc of radius 0.4 m moving 0.15 m per
step, the box is 0.8 m wide and high, the camera is 1.5 m high with a 60 degree vertical field of view,
walls are 2.74 m high, and the box is reached when the centres are closer than 1.15 m.
"""
import math
from collections import namedtuple
from dataclasses import dataclass
from functools import partial

import gymnasium
import numpy as np
from gymnasium.vector.utils import batch_space

from .base import BACKENDS, CppBatchedEnv, PyBatchedEnv, Task, TwinEnv, snapshot_list
from .text import reply_format

# --- geometry ------------------------------------------------------------------------------------------
TILE_SHIFT = 9                     # a tile is 1 << 9 = 512 units = 0.5 m
TILE = 1 << TILE_SHIFT
AGENT_R = 410                      # agent radius, 0.4 m
BOX_HALF, BOX_H = 410, 819         # box half-width 0.4 m, height 0.8 m
CAM_H, WALL_H = 1536, 2806         # camera height 1.5 m, wall height 2.74 m
NEAR = 1180                        # "reached the box": centre distance < 1.15 m (MiniWorld's near())
HEADINGS = 24                      # 15 degree turns
L = 16384                          # scale of the cos/sin table
STEP_COS = (154, 149, 133, 109, 77, 40, 0)            # round(154 * cos(15 j deg)): a 0.15 m step
UNIT_COS = (16384, 15826, 14189, 11585, 8192, 4240, 0)  # round(L * cos(15 j deg))
TAN_NUM, TAN_DEN = 780, 1351       # tan(30 deg) ~ 780 / 1351: half the vertical field of view
TURN_LEFT, TURN_RIGHT, MOVE_FORWARD, MOVE_BACK = range(4)


def rotate(table, k):
    """(cos, sin) of heading k (angle 15 k degrees, counter-clockwise from +x) scaled as `table`."""
    q, j = divmod(k % HEADINGS, 6)
    c, s = table[j], table[6 - j]
    for _ in range(q):
        c, s = -s, c
    return c, s


# --- layouts -------------------------------------------------------------------------------------------
# Rectangles are (x0, y0, x1, y1) in tiles, ends exclusive; y points north (up in the top-down view).
# `carve` is the floor (everything else is wall); the box and the agent are placed uniformly in a region
# chosen with probability proportional to its area, at least AGENT_R (= BOX_HALF) from its edges; the
# agent's heading is heading_lo + below(heading_n). Layouts are MiniWorld's at 2 tiles per metre.
Layout = namedtuple("Layout", "tiles_w tiles_h carve box_regions agent_regions heading_lo heading_n outdoor")
_ROOMS4 = ((1, 17, 13, 29), (17, 17, 29, 29), (17, 1, 29, 13), (1, 1, 13, 13))
_DOORS4 = ((13, 21, 17, 25), (21, 13, 25, 17), (13, 5, 17, 9), (5, 13, 9, 17))
LAYOUTS = {  # the same table, in the same order, as layouts() in csrc/grid.hpp
    "oneroom": Layout(22, 22, ((1, 1, 21, 21),), ((1, 1, 21, 21),), ((1, 1, 21, 21),), 0, 24, False),
    "hallway": Layout(26, 10, ((1, 1, 25, 9),), ((21, 1, 25, 9),), ((1, 1, 21, 9),), -3, 7, False),
    "fourrooms": Layout(30, 30, _ROOMS4 + _DOORS4, _ROOMS4, _ROOMS4, 0, 24, False),
    "wallgap": Layout(30, 34, ((1, 18, 29, 33), (1, 1, 29, 16), (12, 16, 18, 18)), ((1, 1, 29, 16),),
                    ((1, 18, 29, 33),), 0, 24, True),
}

# --- colours (RGB): [indoor, outdoor] ------------------------------------------------------------------
SKY = ((165, 165, 160), (64, 209, 255))           # ceiling indoors, sky outdoors (WallGap)
FLOOR = ((105, 100, 95), (70, 70, 75))
WALL = (((215, 205, 185), (170, 160, 145)), ((165, 92, 70), (132, 72, 55)))  # faces across x, across y
BOX_SIDE, BOX_TOP = ((225, 35, 35), (175, 25, 25)), (255, 120, 120)
MAP_OUTSIDE, AGENT, AGENT_NOSE = (0, 0, 0), (40, 90, 230), (255, 215, 0)


def wall_map(layout):
    """(tiles_h, tiles_w) bool array, True where there is wall."""
    walls = np.ones((layout.tiles_h, layout.tiles_w), bool)
    for x0, y0, x1, y1 in layout.carve:
        walls[y0:y1, x0:x1] = False
    return walls


class GridWorld(TwinEnv):
    """One env: agent (x, y, heading), box (x, y), step count t. Frames are image_size wide, 3/4 as high."""

    num_actions = 4

    def __init__(self, task_name, image_size=80, max_steps=128, top_down=False, shaping=0):
        super().__init__(image_size)
        self.layout = LAYOUTS[task_name]
        self.walls = wall_map(self.layout)
        self.width, self.height = image_size, image_size * 3 // 4
        self.max_steps, self.top_down, self.shaping = max_steps, top_down, shaping
        self.ax = self.ay = self.heading = self.bx = self.by = self.t = 0

    # --- dynamics
    def _place(self, rng, regions):
        pick = rng.below(sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions))
        for x0, y0, x1, y1 in regions:
            area = (x1 - x0) * (y1 - y0)
            if pick < area:
                break
            pick -= area
        x = x0 * TILE + AGENT_R + rng.below((x1 - x0) * TILE - 2 * AGENT_R + 1)
        y = y0 * TILE + AGENT_R + rng.below((y1 - y0) * TILE - 2 * AGENT_R + 1)
        return x, y

    def reset(self, rng):
        layout = self.layout
        self.bx, self.by = self._place(rng, layout.box_regions)
        while True:  # the agent never starts next to the box
            self.ax, self.ay = self._place(rng, layout.agent_regions)
            if not self.near():
                break
        self.heading = (layout.heading_lo + rng.below(layout.heading_n)) % HEADINGS
        self.t = 0

    def succeeded(self):  # shaped rewards can add up to more than 0 without reaching the box
        return self.near()

    def near(self):
        return (self.ax - self.bx) ** 2 + (self.ay - self.by) ** 2 < NEAR * NEAR

    def collides(self, x, y):
        """Whether the agent's disc at (x, y) overlaps a wall tile (touching is allowed)."""
        for ty in range((y - AGENT_R) >> TILE_SHIFT, ((y + AGENT_R) >> TILE_SHIFT) + 1):
            for tx in range((x - AGENT_R) >> TILE_SHIFT, ((x + AGENT_R) >> TILE_SHIFT) + 1):
                if self.walls[ty, tx]:
                    cx = min(max(x, tx * TILE), tx * TILE + TILE)
                    cy = min(max(y, ty * TILE), ty * TILE + TILE)
                    if (x - cx) ** 2 + (y - cy) ** 2 < AGENT_R * AGENT_R:
                        return True
        return False

    def box_distance(self):
        return math.sqrt((self.ax - self.bx) ** 2 + (self.ay - self.by) ** 2)

    def step(self, action, rng=None):
        """Returns (reward, terminated, truncated). A move into a wall leaves the agent where it was. The
        box is never an obstacle: a 0.15 m step cannot carry the agent from outside NEAR into it. With
        shaping k, each step also earns k/100 per metre it brought the agent closer to the box (less when
        farther): potential-based shaping, so over an episode it adds up to k/100 x the distance covered."""
        before = self.box_distance()
        self.t += 1
        if action in (TURN_LEFT, TURN_RIGHT):
            self.heading = (self.heading + (1 if action == TURN_LEFT else -1)) % HEADINGS
        else:
            dx, dy = rotate(STEP_COS, self.heading)
            if action == MOVE_BACK:
                dx, dy = -dx, -dy
            if not self.collides(self.ax + dx, self.ay + dy):
                self.ax, self.ay = self.ax + dx, self.ay + dy
        done = self.near()
        reward = 1.0 - 0.2 * self.t / self.max_steps if done else 0.0
        if self.shaping:
            reward += self.shaping / 100.0 * (before - self.box_distance()) / 1024.0
        return float(np.float32(reward)), done, not done and self.t >= self.max_steps

    def get_state(self):
        return [self.ax, self.ay, self.heading, self.bx, self.by, self.t]

    def set_state(self, s):
        s = [int(v) for v in s]
        if len(s) != 6:
            raise ValueError("grid state: expected [ax, ay, heading, bx, by, t]")
        ax, ay, heading, bx, by, t = s
        w, h, m = self.layout.tiles_w * TILE, self.layout.tiles_h * TILE, TILE + AGENT_R  # inside the border
        if not (m <= ax <= w - m and m <= ay <= h - m and 0 <= heading < HEADINGS):
            raise ValueError("grid state: agent position or heading out of range")
        if not (m <= bx <= w - m and m <= by <= h - m and 0 <= t < self.max_steps):
            raise ValueError("grid state: box position or step count out of range")
        if self.collides(ax, ay) or (ax - bx) ** 2 + (ay - by) ** 2 < NEAR * NEAR:
            raise ValueError("grid state: the agent overlaps a wall or has already reached the box")
        self.ax, self.ay, self.heading, self.bx, self.by, self.t = s

    # --- rendering
    def render(self):
        frame = np.empty((self.height, self.width, 3), np.uint8)
        (self._draw_top_down if self.top_down else self._draw_first_person)(frame)
        return frame

    def _cast(self, rx, ry):
        """Where the ray (ax, ay) + t (rx, ry) leaves the floor: (num, den, side), t = num / den, side 0 for a
        wall face across x. The floor is a union of rectangles (layout.carve): the ray goes from the one it is
        in to the one that continues past its exit point, until none does. Ties go to x, as in C++."""
        ax, ay = self.ax, self.ay
        rect = next(r for r in self.layout.carve
                    if r[0] * TILE <= ax <= r[2] * TILE and r[1] * TILE <= ay <= r[3] * TILE)
        while True:
            x0, y0, x1, y1 = (v * TILE for v in rect)
            nx, dx = (x1 - ax, rx) if rx > 0 else (ax - x0, -rx)
            ny, dy = (y1 - ay, ry) if ry > 0 else (ay - y0, -ry)
            if dy == 0 or (dx != 0 and nx * dy <= ny * dx):
                num, den, side, edge = nx, dx, 0, x1 if rx > 0 else x0
                cross = ay * den + ry * num  # the exit point's y, times den
            else:
                num, den, side, edge = ny, dy, 1, y1 if ry > 0 else y0
                cross = ax * den + rx * num
            forward = (rx if side == 0 else ry) > 0
            for r in self.layout.carve:
                lo, hi = (r[1], r[3]) if side == 0 else (r[0], r[2])
                if (r[side] if forward else r[side + 2]) * TILE == edge and lo * TILE * den < cross < hi * TILE * den:
                    rect = r
                    break
            else:
                return num, den, side

    def _box_hit(self, rx, ry):
        """Where the ray enters and leaves the box square: ((n1, d1), (n2, d2), side) or None."""
        enter = leave = None
        for axis, (p, r, b) in enumerate(((self.ax, rx, self.bx), (self.ay, ry, self.by))):
            lo, hi = b - BOX_HALF - p, b + BOX_HALF - p
            if r == 0:
                if lo < 0 < hi:
                    continue
                return None
            near, far = ((lo, r), (hi, r)) if r > 0 else ((-hi, -r), (-lo, -r))
            if enter is None or near[0] * enter[1] > enter[0] * near[1]:
                enter, side = near, axis
            if leave is None or far[0] * leave[1] < leave[0] * far[1]:
                leave = far
        if enter[0] <= 0 or enter[0] * leave[1] >= leave[0] * enter[1]:
            return None
        return enter, leave, side

    def _draw_first_person(self, frame):
        W, H, out = self.width, self.height, self.layout.outdoor
        c, s = rotate(UNIT_COS, self.heading)
        # e: each row's centre relative to the horizon, in half pixels. A point of height h at ray
        # parameter t = num/den sits (CAM_H - h) den / (2 TAN_NUM L num) pixels below the horizon.
        e = 2 * np.arange(H, dtype=np.int64) + 1 - H
        background = np.where((e < 0)[:, None], np.array(SKY[out], np.uint8), np.array(FLOOR[out], np.uint8))
        for col in range(W):
            k = 2 * col + 1 - W  # rays through pixel centres: forward * TAN_DEN H + right * k TAN_NUM
            rx, ry = TAN_DEN * H * c + k * TAN_NUM * s, TAN_DEN * H * s - k * TAN_NUM * c
            num, den, side = self._cast(rx, ry)
            b = 2 * TAN_NUM * L * num
            wall = (e * b >= -2 * (WALL_H - CAM_H) * den) & (e * b < 2 * CAM_H * den)
            frame[:, col] = np.where(wall[:, None], np.array(WALL[out][side], np.uint8), background)
            hit = self._box_hit(rx, ry)
            if hit is not None and hit[0][0] * den < num * hit[0][1]:  # in front of the wall
                (n1, d1), (n2, d2), face = hit
                b1, b2 = 2 * TAN_NUM * L * n1, 2 * TAN_NUM * L * n2
                top = (e * b2 >= 2 * (CAM_H - BOX_H) * d2) & (e * b1 < 2 * (CAM_H - BOX_H) * d1)
                side_rows = (e * b1 >= 2 * (CAM_H - BOX_H) * d1) & (e * b1 < 2 * CAM_H * d1)
                frame[top, col] = BOX_TOP
                frame[side_rows, col] = BOX_SIDE[face]

    def _draw_top_down(self, frame):
        """The whole map, north up, scaled by an integer number of units per pixel and centred."""
        W, H, layout = self.width, self.height, self.layout
        mw, mh = layout.tiles_w * TILE, layout.tiles_h * TILE
        scale = max(-(-mw // W), -(-mh // H))
        # doubled world coordinates of the pixel centres
        x2 = (mw + (2 * np.arange(W, dtype=np.int64) + 1 - W) * scale)[None, :]
        y2 = (mh - (2 * np.arange(H, dtype=np.int64) + 1 - H) * scale)[:, None]
        inside = (x2 >= 0) & (x2 < 2 * mw) & (y2 >= 0) & (y2 < 2 * mh)
        tiles = self.walls[np.clip(y2 >> (TILE_SHIFT + 1), 0, layout.tiles_h - 1),
                           np.clip(x2 >> (TILE_SHIFT + 1), 0, layout.tiles_w - 1)]
        frame[:] = MAP_OUTSIDE
        frame[inside & tiles] = WALL[layout.outdoor][1]
        frame[inside & ~tiles] = FLOOR[layout.outdoor]
        frame[(abs(x2 - 2 * self.bx) < 2 * BOX_HALF) & (abs(y2 - 2 * self.by) < 2 * BOX_HALF)] = BOX_SIDE[0]
        dx, dy = x2 - 2 * self.ax, y2 - 2 * self.ay
        c, s = rotate(UNIT_COS, self.heading)
        disc = dx * dx + dy * dy < 4 * AGENT_R * AGENT_R
        frame[disc] = AGENT
        frame[disc & (3 * (dx * c + dy * s) > 2 * AGENT_R * L)] = AGENT_NOSE  # the front third


# --- the batched envs: prompts with the last frames, shared with envs/miniworld.py ---------------------
SYMBOLS = ("turn left", "turn right", "move forward", "move back")  # MiniWorld's action order
HISTORY = 4  # frames in a prompt, oldest first
_VIEWS = {
    "": "The images are your last camera views, oldest first; the last is what you see now. ",
    "top_down": "The images are maps seen from above, oldest first; the last is now. You are the blue "
                "disc, facing its yellow edge; the box is the red square. ",
}


def nav_prompt(view: str) -> str:
    return ("Go to the red box. " + _VIEWS[view] + "Turns are 15 degrees, moves are short steps. "
            + reply_format(SYMBOLS))


class NavEnv:
    """Mixin for a BatchedEnv of a navigation task: frames image_size wide and 3/4 as high, and prompts
    that show each env's last HISTORY frames of the current episode (cleared when an episode ends)."""

    def __init__(self, task, num_envs, seed, options):
        super().__init__(task, num_envs, seed, options)
        width = options["image_size"]
        self.single_observation_space = gymnasium.spaces.Box(0, 255, (width * 3 // 4, width, 3), np.uint8)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._frames = self._final_frames = None

    def reset(self, *, seed=None, options=None):
        obs, infos = super().reset(seed=seed, options=options)
        self._frames = [[frame] for frame in obs]
        self._final_frames = [[] for _ in obs]
        return obs, infos

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = super().step(actions)
        if infos:  # some episodes ended: keep their last frames for prompt(i, final=True), start afresh
            for i in np.flatnonzero(infos["_final_obs"]):
                self._final_frames[i] = (self._frames[i] + [infos["final_obs"][i]])[-HISTORY:]
                self._frames[i] = []
        for frames, frame in zip(self._frames, obs):
            frames.append(frame)
            if len(frames) > HISTORY:
                del frames[0]
        return obs, rewards, terminated, truncated, infos

    def _text(self, i, final):
        return "top_down" if self.options.get("top_down") else ""

    # -- snapshots (envs/base.py): the base ones plus the prompt history; the current frame (the history's
    # last) is re-rendered, the earlier ones are stored as raw bytes (they belong to earlier states)
    def get_snapshot(self):
        snapshot = super().get_snapshot()
        snapshot["prev_frames"] = [[frame.tobytes() for frame in frames[:-1]] for frames in self._frames]
        return snapshot

    def set_snapshot(self, snapshot):
        super().set_snapshot(snapshot)  # checks prev_frames too (_check_snapshot), before changing anything
        shape = self.single_observation_space.shape
        self._frames = [[np.frombuffer(b, np.uint8).reshape(shape).copy() for b in prev] + [frame]
                        for prev, frame in zip(snapshot["prev_frames"], self._obs)]
        self._final_frames = [[] for _ in range(self.num_envs)]

    def _snapshot_keys(self):
        return super()._snapshot_keys() + ("prev_frames",)

    def _check_snapshot(self, snapshot):
        super()._check_snapshot(snapshot)
        size = int(np.prod(self.single_observation_space.shape))
        for i, prev in enumerate(snapshot_list(snapshot["prev_frames"], "snapshot prev_frames", self.num_envs)):
            prev = snapshot_list(prev, f"prev_frames[{i}]")
            if len(prev) > HISTORY - 1:
                raise ValueError(f"prev_frames[{i}]: at most {HISTORY - 1} earlier frames, got {len(prev)}")
            for k, frame in enumerate(prev):
                if not isinstance(frame, bytes) or len(frame) != size:
                    got = f"{len(frame)} bytes" if isinstance(frame, bytes) else type(frame).__name__
                    raise ValueError(f"prev_frames[{i}][{k}]: expected {size} bytes (a frame), got {got}")

    def prompt(self, i, final=False):
        _, text = super().prompt(i, final)  # checks i and final
        return list(self._final_frames[i] if final else self._frames[i]), text


VIEW_CAPTIONS = ("the box is on the left", "the box is ahead", "the box is on the right", "no box in view")
CAPTION_FIELDS = {**{c: {"box in view": True, "where": w} for c, w in zip(VIEW_CAPTIONS, ("left", "ahead", "right"))},
                  VIEW_CAPTIONS[3]: {"box in view": False}}  # what each caption says, field by field


def box_in_view(frames):
    """(N, H, W, 3) first-person frames -> (N,) index into VIEW_CAPTIONS: the part of the view (2/5, 1/5,
    2/5 of the width) holding most box pixels, or 3 when none shows."""
    box = np.zeros(frames.shape[:3], bool)
    for colour in (*BOX_SIDE, BOX_TOP):
        box |= (frames == np.array(colour, np.uint8)).all(-1)
    columns, W = box.sum(1), frames.shape[2]
    parts = np.stack([columns[:, : 2 * W // 5].sum(1), columns[:, 2 * W // 5: 3 * W // 5].sum(1),
                      columns[:, 3 * W // 5:].sum(1)], 1)
    return np.where(parts.sum(1) > 0, parts.argmax(1), 3)


class GridEnv(NavEnv):
    """A grid world batch; first-person ones can caption their current view (where the box is), which
    vldac.py's perception warm-up (--perception-steps) teaches the tiny model to say before RL."""

    @property
    def captions(self):
        return () if self.options["top_down"] else VIEW_CAPTIONS

    @property
    def caption_fields(self):
        return CAPTION_FIELDS if self.captions else {}

    def caption(self, i):
        if not self.captions:
            raise ValueError("top-down views have no captions")
        return VIEW_CAPTIONS[box_in_view(self.prompt(i)[0][-1][None])[0]]


class GridCppEnv(GridEnv, CppBatchedEnv):
    pass


class GridPyEnv(GridEnv, PyBatchedEnv):
    pass


@dataclass(frozen=True)
class NavTask(Task):
    def make(self, num_envs, seed=0, backend="cpp", **options):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        cls = GridCppEnv if backend == "cpp" else GridPyEnv
        return cls(self, num_envs, seed, self.resolve_options(options))


OPTIONS = {"image_size": (80, 32, 1024), "max_steps": (128, 1, 100_000), "top_down": (False, False, True),
           "shaping": (0, 0, 1000)}
ONEROOM, HALLWAY, FOURROOMS, WALLGAP = (
    NavTask(f"grid/{name}", cpp="Grid" + cpp, twin=partial(GridWorld, name), symbols=SYMBOLS, prompt=nav_prompt,
            options=OPTIONS)
    for name, cpp in zip(LAYOUTS, ("OneRoom", "Hallway", "FourRooms", "WallGap"))
)
