"""The CATER twin: scenes planned by CATER's max2action rules, rendered from above, written in CATER's layout.

The rules and the layout are in ``vjvcr.data.cater``; ``generate_cater`` writes videos, scene
JSON and both tasks' list files.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .video import write_video
from .cater import ALLOWED, COLORS, GOLD, SIZES, TABLE, TASKS, labels_from_scene, motion_name, video_name


# ----------------------------------------------------------------------------- the twin

def plan_scene(rng: np.random.Generator, *, num_frames: int = 300, segment: int = 30,
               num_objects: tuple[int, int] = (5, 10), scale: float = 1.0) -> dict:
    """A CATER-like scene: objects, and keyframed movements obeying the max2action rules.

    Object 0 is the snitch (``spl``), objects 1-2 are cones; the rest are cubes, spheres or
    cylinders. The video is cut into segments of ``segment`` frames; in each, 1 or 2 objects
    move, each for 20-30 frames inside the segment. Allowed motions follow ``ALLOWED``; a
    cone may contain a smaller cone, a sphere or the snitch that is not moving and not
    contained; a contained object rides with its cone, hidden, and never moves by itself again.
    ``num_objects``: the (fewest, most) objects of a scene; ``scale`` multiplies every object's radius
    (CATER's ``SIZES``).
    """
    k = int(rng.integers(num_objects[0], num_objects[1] + 1))
    shapes = ["spl", "cone", "cone"] + [("cube", "sphere", "cylinder")[i] for i in rng.integers(0, 3, k - 3)]
    sizes = ["small"] + [("medium", "large")[i] for i in rng.integers(0, 2, 2)] + \
            [list(SIZES)[i] for i in rng.integers(0, 3, k - 3)]
    names = {"spl": "Spl", "cone": "Cone", "cube": "Cube", "sphere": "Sphere", "cylinder": "Cylinder"}
    objects = []
    for i, (shape, size) in enumerate(zip(shapes, sizes)):
        for _ in range(200):
            p = rng.uniform(-TABLE, TABLE, 2)
            if all(np.hypot(*(p - np.array(o["3d_coords"][:2]))) > SIZES[size] * scale + SIZES[o["size"]] * scale + 0.1
                   for o in objects):
                break
        objects.append({"instance": f"{names[shape]}_{i}", "shape": shape, "size": size,
                        "color": "gold" if shape == "spl" else list(COLORS)[int(rng.integers(0, 8))],
                        "material": ("metal", "rubber")[int(rng.integers(0, 2))],
                        "3d_coords": [float(p[0]), float(p[1]), SIZES[size] * scale], "rotation": 0.0})
    movements = {o["instance"]: [] for o in objects}
    contained: set[int] = set()
    for seg_start in range(0, num_frames - 20 + 1, segment):
        seg_len = min(segment, num_frames - seg_start)
        movers = [i for i in range(k) if i not in contained]
        chosen = rng.choice(movers, size=min(len(movers), int(rng.integers(1, 3))), replace=False)
        busy = set(int(c) for c in chosen)
        for i in chosen:
            i = int(i)
            dur = int(rng.integers(20, min(30, seg_len) + 1))
            start = seg_start + int(rng.integers(0, seg_len - dur + 1))
            motions = list(ALLOWED[shapes[i]])
            targets = [j for j in range(k) if j != i and j not in contained and j not in busy
                       and shapes[j] in ("cone", "sphere", "spl") and SIZES[sizes[j]] < SIZES[sizes[i]]
                       and not any(m[0] == "_contain" for m in movements[objects[j]["instance"]])]
            if "contain" in motions and not targets:
                motions.remove("contain")
            motion = motions[int(rng.integers(0, len(motions)))]
            other = None
            if motion == "contain":
                j = targets[int(rng.integers(0, len(targets)))]
                other = objects[j]["instance"]
                contained.add(j)
                busy.add(j)
            movements[objects[i]["instance"]].append([f"_{motion}", other, start, start + dur - 1])
    for inst in movements:
        movements[inst].sort(key=lambda m: m[2])
    return {"objects": objects, "movements": movements, "num_frames": num_frames}


def trajectories(scene: dict, rng: np.random.Generator) -> dict:
    """Per-frame (x, y, z, yaw, visible) of every object by keyframed motion.

    slide: straight line to a target in (-3, 3)^2; pick_place: lift 2 units over the first
    20% of the frames, move over the middle 60%, lower over the last 20%; rotate: +90 degrees
    about the vertical in place; contain: a pick_place onto the other object's position, which
    is then hidden and moves with the cone.
    """
    objs = scene["objects"]
    t_total = scene["num_frames"]
    inst = [o["instance"] for o in objs]
    idx = {n: i for i, n in enumerate(inst)}
    state = np.array([[*o["3d_coords"][:2], 0.0, 0.0] for o in objs])  # x, y, lift, yaw
    out = np.zeros((t_total, len(objs), 4))
    visible = np.ones((t_total, len(objs)), dtype=bool)
    events = sorted(((m[2], m[3], idx[n], motion_name(m[0]), m[1]) for n, ms in scene["movements"].items()
                     for m in ms if motion_name(m[0]) != "no_op"))
    plans = []
    for start, end, i, motion, other in events:
        plans.append(dict(start=start, end=end, i=i, motion=motion,
                          other=None if other is None else idx[other],
                          target=rng.uniform(-TABLE, TABLE, 2)))
    carried: dict[int, int] = {}  # contained object -> its cone
    hidden_from: dict[int, int] = {}
    for t in range(t_total):
        for p in plans:
            if not p["start"] <= t <= p["end"]:
                continue
            i, n = p["i"], p["end"] - p["start"] + 1
            if t == p["start"]:
                p["from"] = state[i, :2].copy()
                p["yaw0"] = state[i, 3]
                if p["motion"] == "contain":
                    p["target"] = state[p["other"], :2].copy()
            s = (t - p["start"] + 1) / n  # progress in (0, 1]
            if p["motion"] == "slide":
                state[i, :2] = p["from"] + s * (p["target"] - p["from"])
            elif p["motion"] == "rotate":
                state[i, 3] = p["yaw0"] + s * np.pi / 2
            else:  # pick_place and contain
                lift = min(1.0, s / 0.2) if s < 0.2 else (1.0 if s <= 0.8 else max(0.0, (1 - s) / 0.2))
                move = min(1.0, max(0.0, (s - 0.2) / 0.6))
                state[i, 2] = 2.0 * lift
                state[i, :2] = p["from"] + move * (p["target"] - p["from"])
                if p["motion"] == "contain" and t == p["end"]:
                    carried[p["other"]] = i
                    hidden_from[p["other"]] = t
        for j, cone in carried.items():
            state[j, :2] = state[cone, :2]
        out[t] = state
        for j, t0 in hidden_from.items():
            if t >= t0:
                visible[t, j] = False
    return {"state": out, "visible": visible}


def render(scene: dict, traj: dict, *, width: int = 320, height: int = 240, scale: float = 1.0) -> np.ndarray:
    """Frames [T, H, W, 3]: an oblique view of the table; lifted objects rise and cast a shadow; ``scale``
    multiplies every object's radius, as ``plan_scene``'s."""
    objs = scene["objects"]
    span = TABLE + 1.0
    us = (np.arange(width) + 0.5) / width * 2 * span - span
    vs = span - (np.arange(height) + 0.5) / height * 2 * span
    gu, gv = np.meshgrid(us, vs)
    floor = np.full((height, width, 3), 175.0, dtype=np.float32) - 25 * ((gv + span) / (2 * span))[..., None]
    state, visible = traj["state"], traj["visible"]
    frames = np.empty((len(state), height, width, 3), dtype=np.uint8)
    for t in range(len(state)):
        img = floor.copy()
        order = np.argsort(-state[t, :, 1])  # far (large y) first
        for i in order:
            if not visible[t, i]:
                continue
            x, y, lift, yaw = state[t, i]
            r = SIZES[objs[i]["size"]] * scale
            if lift > 0:  # shadow on the table
                img[((gu - x) ** 2 + (gv - y) ** 2) < r * r] *= 0.75
            cy = y + 0.6 * lift  # drawn higher when lifted
            du, dv = gu - x, gv - cy
            c, s = np.cos(yaw), np.sin(yaw)
            ru, rv = c * du + s * dv, -s * du + c * dv
            shape = objs[i]["shape"]
            if shape == "sphere":
                mask = du * du + dv * dv <= r * r
            elif shape == "cube":
                mask = (np.abs(ru) <= 0.85 * r) & (np.abs(rv) <= 0.85 * r)
            elif shape == "cylinder":
                mask = du * du + dv * dv <= r * r
            elif shape == "cone":  # a triangle, apex up
                mask = (dv <= r) & (dv >= -r) & (np.abs(du) <= (r - dv) / 2)
            else:  # the snitch: a gold diamond that turns with its yaw
                mask = np.abs(ru) + np.abs(rv) <= r
            colour = np.array(GOLD if shape == "spl" else COLORS[objs[i]["color"]], dtype=np.float32)
            img[mask] = colour
            if shape == "cylinder":  # a stripe shows its rotation
                img[mask & (np.abs(rv) < 0.2 * r) & (ru > 0)] = colour * 0.5
            elif shape == "cube":
                img[mask & (ru > 0.55 * r)] = colour * 0.6
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


def generate_cater(root: str | Path, *, num_videos: int, num_frames: int = 300, width: int = 320,
                   height: int = 240, fps: int = 24, seed: int = 0, train_fraction: float = 0.7,
                   object_scale: float = 1.0, num_objects: tuple[int, int] = (5, 10), progress: bool = True) -> Path:
    """Write a CATER twin under ``root``: videos, scene JSON, and both tasks' list files.

    The train/val split is a seeded shuffle (70/30 as CATER's). Videos already on disk with
    their scene are not redone.
    """
    root = Path(root)
    scenes = {}
    for index in tqdm(range(num_videos), desc="CATER twin", disable=not progress):
        name = video_name(index)
        vp, sp = root / "videos" / name, root / "scenes" / name.replace(".avi", ".json")
        if vp.exists() and sp.exists():
            scenes[name] = json.loads(sp.read_text())
            continue
        rng = np.random.default_rng([seed, index])
        scene = plan_scene(rng, num_frames=num_frames, num_objects=num_objects, scale=object_scale)
        traj = trajectories(scene, rng)
        write_video(vp, render(scene, traj, width=width, height=height, scale=object_scale), fps=fps)
        sp.parent.mkdir(parents=True, exist_ok=True)
        sp.write_text(json.dumps(scene))
        scenes[name] = scene
    order = np.random.default_rng(seed + 42).permutation(num_videos)
    n_train = int(round(train_fraction * num_videos))
    for task in TASKS:
        (root / "lists" / task).mkdir(parents=True, exist_ok=True)
        for split, part in (("train", order[:n_train]), ("val", order[n_train:])):
            lines = []
            for index in sorted(part):
                name = video_name(int(index))
                lines.append(f"{name} {','.join(str(c) for c in labels_from_scene(scenes[name], task))}")
            (root / "lists" / task / f"{split}.txt").write_text("\n".join(lines) + "\n")
    (root / "twin.json").write_text(json.dumps(dict(generator="vjvcr.data.cater_twin.generate_cater",
                                                    num_videos=num_videos, num_frames=num_frames, width=width,
                                                    height=height, fps=fps, seed=seed, object_scale=object_scale,
                                                    num_objects=list(num_objects)), indent=1))
    return root


