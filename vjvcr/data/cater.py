"""CATER (max2action): its rules, labels and the loader for the official files.

Layout (official, and what the twin, ``vjvcr.data.cater_twin.generate_cater``, writes)::

    root/videos/CATER_new_000000.avi                 MJPEG, 320x240, 24 fps
    root/scenes/CATER_new_000000.json                objects and ``movements``
    root/lists/actions_present/{train,val}.txt       task 1: 14 classes
    root/lists/actions_order_uniq/{train,val}.txt    task 2: 301 classes

A list line is ``<video name> <id>,<id>,...``. ``movements`` maps an object instance to
``[[action, other_or_null, start_frame, end_frame], ...]`` with actions ``_slide``,
``_pick_place``, ``_rotate``, ``_contain`` (and ``_no_op``, which labels nothing).

**Task 1** (``actions_present``): class = (shape, motion) from ``TASK1_CLASSES``; on when any
object of that shape did that motion anywhere in the video (the list files). For a clip, Fig. 2 of
the paper predicts "the aggregated set of actions in the target frames": ``window_labels`` turns the
scene's movements into the labels of a clip's target frames (``CaterClips.clip_labels``).
**Task 2** (``actions_order_uniq``): for every ordered pair of distinct movements (A, B) in
the video, the triple (class(A), class(B), relation) with relation ``before`` (A ends before
B starts), ``after`` (A starts after B ends) or ``during`` (they overlap). A triple and its
mirror (class(B), class(A), inverse relation) are one class: 14 x 14 x 3 = 588 triples,
301 classes. Our class numbering (``TASK2_CLASSES``) is an enumeration of the canonical
triples; real list files carry CATER's own ids and the loader only reads them.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .video import VideoDecodeError, read_frames, report_skipped

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


# ----------------------------------------------------------------------------- the loader

def window_labels(events: list, first: int, last: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(multi-hot [K], coverage [K]) of the actions whose time span overlaps frames first..last (inclusive).

    The paper's Fig. 2 predicts "the aggregated set of actions in the target frames": class c is on
    when a movement of class c overlaps the target frames; its coverage is the largest fraction of
    those frames one such movement spans (the oracle's feature).
    """
    hot, cover = np.zeros(num_classes, np.uint8), np.zeros(num_classes, np.float32)
    for c, start, end in events:
        overlap = min(end, last) - max(start, first) + 1
        if overlap > 0:
            hot[c] = 1
            cover[c] = max(cover[c], overlap / (last - first + 1))
    return hot, cover


@dataclass
class CaterClips:
    """Decoded clips (several per video), each video's multi-hot labels, and each clip's target-frame labels."""

    frames: np.ndarray  # uint8 [N_clips, T, size, size, 3]
    clip_video: np.ndarray  # int [N_clips]: row of ``labels`` the clip belongs to
    labels: np.ndarray  # uint8 [N_videos, num_classes]: the whole video's actions (CATER's list files)
    names: np.ndarray  # str [N_videos]
    clip_labels: np.ndarray  # uint8 [N_clips, num_classes]: the actions overlapping the clip's target frames
    clip_coverage: np.ndarray  # float [N_clips, num_classes]: how much of the target frames each covers
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
                 size: int = 64, num_frames: int = 8, stride: int = 3, clips_per_video: int = 3, num_input: int = 4,
                 video_frames: int | None = None, max_videos: int | None = None, progress: bool = False):
        if task not in TASKS:
            raise ValueError(f"unknown CATER task {task!r}; valid: {', '.join(TASKS)}")
        root = Path(root)
        lst = root / "lists" / task / f"{split}.txt"
        if not lst.exists():
            raise FileNotFoundError(
                f"{lst} not found. Download CATER (max2action) from https://rohitgirdhar.github.io/CATER "
                f"and unpack videos/ and lists/ into {root} (or generate the twin with vjvcr.data.cater_twin.generate_cater)")
        entries = read_list(lst)[:max_videos]
        span = stride * (num_frames - 1) + 1
        frames, clip_video, labels, names, skipped, clip_labels, coverage = [], [], [], [], [], [], []
        k = TASKS[task]
        scenes = root / "scenes"
        if task == "actions_present" and not scenes.is_dir():
            warnings.warn(f"{scenes} not found: each clip takes its whole video's labels, not those of its target "
                          f"frames (put CATER's scenes/ folder there for the paper's task)")
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
            scene = scenes / name.replace(".avi", ".json")
            events = movement_events(json.loads(scene.read_text())) if scene.exists() and task == "actions_present" else None
            for s0 in starts:
                first, last = int(s0) + stride * num_input, int(s0) + stride * (num_frames - 1)
                hot, cover = window_labels(events, first, last, k) if events is not None else (row, row.astype(np.float32))
                clip_labels.append(hot)
                coverage.append(cover)
            clip_video += [len(labels)] * clips_per_video
            labels.append(row)
            names.append(name)
            frames.append(clip)
        report_skipped(f"CATER {split}", skipped, total=len(entries), kept=len(frames), root=root)
        self.clips = CaterClips(np.concatenate(frames), np.array(clip_video), np.stack(labels), np.array(names),
                                np.stack(clip_labels), np.stack(coverage), skipped,
                                meta=dict(root=str(root), split=split, task=task, size=size, num_frames=num_frames,
                                          stride=stride, clips_per_video=clips_per_video,
                                          clip_labels="target frames" if scenes.is_dir() else "whole video"))

    @property
    def num_skipped(self) -> int:
        return len(self.clips.skipped)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i):
        clip = torch.from_numpy(self.clips.frames[i]).permute(0, 3, 1, 2).float() / 255
        return clip, torch.from_numpy(self.clips.clip_labels[i])


def _count_frames(path: Path) -> int:
    import av  # PyAV is optional (--skip-video on a machine without it)

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
