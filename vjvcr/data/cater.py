"""CATER (max2action): the loader for the official files and a twin that follows CATER's rules.

Layout (official, and what ``generate_cater`` writes)::

    root/videos/CATER_new_000000.avi                 MJPEG, 320x240, 24 fps
    root/scenes/CATER_new_000000.json                objects and ``movements``
    root/lists/actions_present/{train,val}.txt       task 1: 14 classes
    root/lists/actions_order_uniq/{train,val}.txt    task 2: 301 classes

A list line is ``<video name> <id>,<id>,...``. ``movements`` maps an object instance to
``[[action, other_or_null, start_frame, end_frame], ...]`` with actions ``_slide``,
``_pick_place``, ``_rotate``, ``_contain`` (and ``_no_op``, which labels nothing).

**Task 1** (``actions_present``): class = (shape, motion) from ``TASK1_CLASSES``; on when any
object of that shape did that motion anywhere in the video.
**Task 2** (``actions_order_uniq``): for every ordered pair of distinct movements (A, B) in
the video, the triple (class(A), class(B), relation) with relation ``before`` (A ends before
B starts), ``after`` (A starts after B ends) or ``during`` (they overlap). A triple and its
mirror (class(B), class(A), inverse relation) are one class: 14 x 14 x 3 = 588 triples,
301 classes. Our class numbering (``TASK2_CLASSES``) is an enumeration of the canonical
triples; real list files carry CATER's own ids and the loader only reads them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .video import VideoDecodeError, read_frames, report_skipped, write_video

TASK1_CLASSES = (
    ("sphere", "slide"), ("sphere", "pick_place"), ("spl", "slide"), ("spl", "pick_place"), ("spl", "rotate"),
    ("cylinder", "pick_place"), ("cylinder", "slide"), ("cylinder", "rotate"), ("cube", "slide"),
    ("cube", "pick_place"), ("cube", "rotate"), ("cone", "contain"), ("cone", "pick_place"), ("cone", "slide"),
)
TASK1_INDEX = {c: i for i, c in enumerate(TASK1_CLASSES)}
RELATIONS = ("before", "during", "after")
_MIRROR = {"before": "after", "during": "during", "after": "before"}


def _task2_classes() -> tuple:
    out = []
    for a in range(len(TASK1_CLASSES)):
        for b in range(a, len(TASK1_CLASSES)):
            for rel in RELATIONS:
                if a == b and rel == "after":  # (a, a, after) is the mirror of (a, a, before)
                    continue
                out.append((a, b, rel))
    return tuple(out)


TASK2_CLASSES = _task2_classes()
TASK2_INDEX = {c: i for i, c in enumerate(TASK2_CLASSES)}
TASKS = {"actions_present": len(TASK1_CLASSES), "actions_order_uniq": len(TASK2_CLASSES)}
ALLOWED = {  # motions each shape can make (spheres and cones never rotate; only cones contain)
    "sphere": ("slide", "pick_place"), "spl": ("slide", "pick_place", "rotate"),
    "cylinder": ("slide", "pick_place", "rotate"), "cube": ("slide", "pick_place", "rotate"),
    "cone": ("slide", "pick_place", "contain"),
}
SIZES = {"small": 0.3, "medium": 0.45, "large": 0.6}  # radius on the table
COLORS = {"gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
          "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51)}
GOLD = (212, 175, 55)
TABLE = 3.0  # targets of slides and pick-places lie in (-TABLE, TABLE)^2


def video_name(index: int) -> str:
    return f"CATER_new_{index:06d}.avi"


def motion_name(action: str) -> str:
    return action[1:] if action.startswith("_") else action


# ----------------------------------------------------------------------------- labels

def movement_events(scene: dict) -> list[tuple[int, int, int]]:
    """(task-1 class, start, end) of every movement in a scene JSON (``_no_op`` ignored)."""
    shape_of = {o["instance"]: o["shape"] for o in scene["objects"]}
    events = []
    for inst, moves in scene["movements"].items():
        for action, _other, start, end in moves:
            motion = motion_name(action)
            if motion == "no_op":
                continue
            key = (shape_of[inst], motion)
            if key not in TASK1_INDEX:
                raise ValueError(f"{inst} ({shape_of[inst]}) makes {action}, which CATER's task 1 has no class for")
            events.append((TASK1_INDEX[key], int(start), int(end)))
    return sorted(events, key=lambda e: (e[1], e[2], e[0]))


def relation(a: tuple, b: tuple) -> str:
    """Temporal relation of event a to event b: before, after or during (overlap)."""
    if a[2] < b[1]:
        return "before"
    if a[1] > b[2]:
        return "after"
    return "during"


def task2_class(a: tuple, b: tuple) -> int:
    ca, cb, rel = a[0], b[0], relation(a, b)
    if ca > cb or (ca == cb and rel == "after"):
        ca, cb, rel = cb, ca, _MIRROR[rel]
    return TASK2_INDEX[(ca, cb, rel)]


def labels_from_scene(scene: dict, task: str = "actions_present") -> list[int]:
    """The sorted class ids of a scene under CATER's task-1 or task-2 rule."""
    events = movement_events(scene)
    if task == "actions_present":
        return sorted({e[0] for e in events})
    if task == "actions_order_uniq":
        return sorted({task2_class(a, b) for i, a in enumerate(events) for j, b in enumerate(events) if i != j})
    raise ValueError(f"unknown CATER task {task!r}; valid: {', '.join(TASKS)}")


def read_list(path: str | Path) -> list[tuple[str, list[int]]]:
    """Parse a CATER list file: ``<video name> <id>,<id>,...`` per line (split on whitespace, then commas)."""
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 2:
            raise ValueError(f"{path}:{n}: expected '<video> <id>,<id>,...', got {line!r}")
        ids = [int(t) for t in parts[1].split(",") if t] if len(parts) == 2 else []
        out.append((parts[0], ids))
    return out


# ----------------------------------------------------------------------------- the twin

def plan_scene(rng: np.random.Generator, *, num_frames: int = 300, segment: int = 30,
               num_objects: tuple[int, int] = (5, 10)) -> dict:
    """A CATER-like scene: objects, and keyframed movements obeying the max2action rules.

    Object 0 is the snitch (``spl``), objects 1-2 are cones; the rest are cubes, spheres or
    cylinders. The video is cut into segments of ``segment`` frames; in each, 1 or 2 objects
    move, each for 20-30 frames inside the segment. Allowed motions follow ``ALLOWED``; a
    cone may contain a smaller cone, a sphere or the snitch that is not moving and not
    contained; a contained object rides with its cone, hidden, and never moves by itself again.
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
            if all(np.hypot(*(p - np.array(o["3d_coords"][:2]))) > SIZES[size] + SIZES[o["size"]] + 0.1
                   for o in objects):
                break
        objects.append({"instance": f"{names[shape]}_{i}", "shape": shape, "size": size,
                        "color": "gold" if shape == "spl" else list(COLORS)[int(rng.integers(0, 8))],
                        "material": ("metal", "rubber")[int(rng.integers(0, 2))],
                        "3d_coords": [float(p[0]), float(p[1]), SIZES[size]], "rotation": 0.0})
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


def render(scene: dict, traj: dict, *, width: int = 320, height: int = 240) -> np.ndarray:
    """Frames [T, H, W, 3]: an oblique view of the table; lifted objects rise and cast a shadow."""
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
            r = SIZES[objs[i]["size"]]
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
                   progress: bool = True) -> Path:
    """Write a CATER twin under ``root``: videos, scene JSON, and both tasks' list files.

    The train/val split is a seeded shuffle (70/30 as CATER's). Videos already on disk with
    their scene are not redone.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    scenes = {}
    for index in tqdm(range(num_videos), desc="CATER twin", disable=not progress):
        name = video_name(index)
        vp, sp = root / "videos" / name, root / "scenes" / name.replace(".avi", ".json")
        if vp.exists() and sp.exists():
            scenes[name] = json.loads(sp.read_text())
            continue
        rng = np.random.default_rng([seed, index])
        scene = plan_scene(rng, num_frames=num_frames)
        traj = trajectories(scene, rng)
        write_video(vp, render(scene, traj, width=width, height=height), fps=fps)
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
    (root / "twin.json").write_text(json.dumps(dict(generator="vjvcr.data.cater.generate_cater",
                                                    num_videos=num_videos, num_frames=num_frames, width=width,
                                                    height=height, fps=fps, seed=seed), indent=1))
    return root


# ----------------------------------------------------------------------------- the loader

@dataclass
class CaterClips:
    """Decoded clips (several per video) and each video's multi-hot labels."""

    frames: np.ndarray  # uint8 [N_clips, T, size, size, 3]
    clip_video: np.ndarray  # int [N_clips]: row of ``labels`` the clip belongs to
    labels: np.ndarray  # uint8 [N_videos, num_classes]
    names: np.ndarray  # str [N_videos]
    skipped: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)


class CaterDataset:
    """CATER clips with multi-hot labels, from the official layout (or the twin).

    From each video, ``clips_per_video`` clips of ``num_frames`` frames (every ``stride``-th
    frame) start at evenly spaced frames, resized to ``size`` x ``size``. Videos that cannot
    be decoded (CATER ships a few corrupt AVIs) are skipped with one warning and counted in
    ``num_skipped``. ``dataset[i]`` is (clip float tensor [T, 3, size, size], labels of its video).
    """

    def __init__(self, root: str | Path, split: str = "train", task: str = "actions_present", *,
                 size: int = 64, num_frames: int = 8, stride: int = 3, clips_per_video: int = 3,
                 video_frames: int | None = None, max_videos: int | None = None, progress: bool = False):
        from tqdm.auto import tqdm

        if task not in TASKS:
            raise ValueError(f"unknown CATER task {task!r}; valid: {', '.join(TASKS)}")
        root = Path(root)
        lst = root / "lists" / task / f"{split}.txt"
        if not lst.exists():
            raise FileNotFoundError(
                f"{lst} not found. Download CATER (max2action) from https://rohitgirdhar.github.io/CATER "
                f"and unpack videos/ and lists/ into {root} (or generate the twin with vjvcr.data.cater.generate_cater)")
        entries = read_list(lst)[:max_videos]
        span = stride * (num_frames - 1) + 1
        frames, clip_video, labels, names, skipped = [], [], [], [], []
        k = TASKS[task]
        for name, ids in tqdm(entries, desc=f"CATER {split}", disable=not progress):
            vp = root / "videos" / (name if name.endswith(".avi") else name + ".avi")
            try:
                if video_frames is None:
                    n = _count_frames(vp)
                else:
                    n = video_frames
                if n < span:
                    raise VideoDecodeError(f"{vp}: {n} frames, fewer than one clip needs ({span})")
                starts = np.linspace(0, n - span, clips_per_video).round().astype(int)
                idx = [int(s) + stride * j for s in starts for j in range(num_frames)]
                clip = read_frames(vp, indices=idx, size=size).reshape(clips_per_video, num_frames, size, size, 3)
            except (VideoDecodeError, FileNotFoundError) as err:
                skipped.append((str(vp), str(err)))
                continue
            bad = [c for c in ids if not 0 <= c < k]
            if bad:
                raise ValueError(f"{lst}: {name} has class ids {bad} outside 0..{k - 1} for task {task}")
            row = np.zeros(k, dtype=np.uint8)
            row[ids] = 1
            clip_video += [len(labels)] * clips_per_video
            labels.append(row)
            names.append(name)
            frames.append(clip)
        report_skipped(f"CATER {split}", skipped, total=len(entries), kept=len(frames), root=root)
        self.clips = CaterClips(np.concatenate(frames), np.array(clip_video), np.stack(labels), np.array(names),
                                skipped, meta=dict(root=str(root), split=split, task=task, size=size,
                                                   num_frames=num_frames, stride=stride,
                                                   clips_per_video=clips_per_video))

    @property
    def num_skipped(self) -> int:
        return len(self.clips.skipped)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i):
        import torch

        clip = torch.from_numpy(self.clips.frames[i]).permute(0, 3, 1, 2).float() / 255
        return clip, torch.from_numpy(self.clips.labels[self.clips.clip_video[i]])


def _count_frames(path: Path) -> int:
    import av

    if not path.exists():
        raise FileNotFoundError(f"{path} is listed but missing")
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            if s.frames:
                return int(s.frames)
            return sum(1 for _ in c.demux(s) if _.size)
    except av.error.FFmpegError as err:
        raise VideoDecodeError(f"{path}: cannot open ({err})") from err
