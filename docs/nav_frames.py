"""Writes docs/nav_<task>.png: MiniWorld's first-person frame, the grid twin's, and the grid's top-down map
for the same view (the agent 2.5 m from the red box, facing it), each 80x60 scaled 3x.

    python docs/nav_frames.py
"""
import math
from pathlib import Path

import numpy as np
from PIL import Image

import envs

WORLDS = {"OneRoom": "oneroom", "Hallway": "hallway", "FourRooms": "fourrooms", "WallGap": "wallgap"}
DISTANCE = 2.5  # metres


def miniworld_frame(task):
    env = envs.make(f"miniworld/{task}", 1, seed=0)
    env.reset()
    mw = env._local.envs[0]
    box = mw.box.pos
    centre = np.array([(mw.min_x + mw.max_x) / 2, 0, (mw.min_z + mw.max_z) / 2])
    u = (centre - box) / np.linalg.norm(centre - box)  # stand on the room's side of the box
    mw.agent.pos, mw.agent.dir = box + DISTANCE * u, math.atan2(u[2], -u[0])
    frame = mw.render_obs()
    env.close()
    return frame


def grid_frames(task):
    frames = []
    for top_down in (False, True):
        env = envs.make(f"grid/{task}", 1, seed=0, top_down=top_down)
        env.reset()
        _, _, _, bx, by, _ = env.get_state(0)
        d = int(DISTANCE * 1024)
        for dx, dy, heading in [(-d, 0, 0), (d, 0, 12), (0, -d, 6), (0, d, 18)]:  # the first free side
            try:
                env.set_state(0, [bx + dx, by + dy, heading, bx, by, 0])
                break
            except ValueError:
                continue
        frames.append(env.render_all()[0])
    return frames


def main():
    for task, name in WORLDS.items():
        panels = [miniworld_frame(task), *grid_frames(name)]
        strip = np.concatenate([np.pad(p, ((0, 0), (0, 2), (0, 0)), constant_values=255) for p in panels], 1)[:, :-2]
        path = Path(__file__).parent / f"nav_{name}.png"
        Image.fromarray(strip).resize((strip.shape[1] * 3, strip.shape[0] * 3), Image.NEAREST).save(path, optimize=True)
        print(path, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
