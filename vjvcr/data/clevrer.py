"""CLEVRER: the loader for the official files and a synthetic twin that writes the same layout.

Layout (official, and what ``generate_clevrer`` writes)::

    root/video_train/video_00000-01000/video_00000.mp4          train: 0-9999
    root/video_validation/video_10000-11000/video_10000.mp4     validation: 10000-14999
    root/annotation_train/annotation_00000-01000/annotation_00000.json
    root/annotation_validation/annotation_10000-11000/annotation_10000.json

Annotation keys: ``scene_index``, ``video_filename``, ``object_property`` [{object_id, color,
material, shape}], ``motion_trajectory`` [{frame_id, objects: [{object_id, location[3],
orientation[3], velocity[3], angular_velocity[3], inside_camera_view}]}], ``collision``
[{object_ids[2], frame_id, location[3]}].

**Speed label** (``speed_labels``): for a clip made of video frames f_0 < f_1 < ... < f_n, the
mean over consecutive pairs (f_k, f_k+1) and over the objects inside the camera view at both
frames of ``||location_xy(f_k+1) - location_xy(f_k)|| / (f_k+1 - f_k)``: the ground-plane speed
in **annotation location units per video frame**, from positions only. The ``velocity`` field
is not used, because CLEVRER does not document its units (the twin writes it in units per
second at ``fps``, and a test checks that the two agree). A clip with no visible object
moving between two of its frames gets speed 0.

Which objects count: ``speed_labels(..., shown_by=n)`` (the experiments' label, ``speed_shown``)
counts only the objects whose motion the clip's first ``n`` frames (its input) show, i.e. those in
view at both frames of at least one consecutive pair among them; plain ``speed_labels`` (``speed``,
the earlier label, kept as ``Profile.clevrer_label = "speed"``) counts every visible object, also
those that come into view during the target frames, which nothing in the input can foresee: on the
quick twin that bounds any function of the input frames at R² ~0.88 (``benchmarks/clevrer_oracle.py``).

The twin (``generate_clevrer``) is a 2D elastic-collision simulation on the ground plane,
seen from above: equal-mass discs of one radius (CLEVRER has one size), 3 shapes, 8 CLEVR
colours, 2 materials, objects entering through the view's border over time, no friction,
no walls (objects leave the view as in CLEVRER), every collision recorded. The official
renderer (Blender, perspective camera) was never released; the twin draws flat shapes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import CLEVRER_LABELS
from .video import VideoDecodeError, read_frames, report_skipped

SHAPES = ("cube", "sphere", "cylinder")
MATERIALS = ("metal", "rubber")
COLORS = {  # the 8 CLEVR colours (RGB)
    "gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
    "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51),
}
SPLIT_START = {"train": 0, "validation": 10_000, "test": 15_000}
VIEW = (4.5, 3.0)  # half-width, half-height of the camera view on the ground plane (3:2, like 480x320)
RADIUS = 0.4  # every object's radius on the plane
LABELS = CLEVRER_LABELS  # the speed labels a clip carries (module docstring)


def chunk_name(prefix: str, index: int) -> str:
    lo = index // 1000 * 1000
    return f"{prefix}_{lo:05d}-{lo + 1000:05d}"


def video_path(root: Path, split: str, index: int) -> Path:
    return Path(root) / f"video_{split}" / chunk_name("video", index) / f"video_{index:05d}.mp4"


def annotation_path(root: Path, split: str, index: int) -> Path:
    return Path(root) / f"annotation_{split}" / chunk_name("annotation", index) / f"annotation_{index:05d}.json"


# ----------------------------------------------------------------------------- labels and the loader

def trajectory_arrays(ann: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame ids [F], locations [F, K, 3], inside_camera_view [F, K]) of an annotation."""
    ids = sorted({o["object_id"] for fr in ann["motion_trajectory"] for o in fr["objects"]})
    col = {oid: c for c, oid in enumerate(ids)}
    traj = sorted(ann["motion_trajectory"], key=lambda fr: fr["frame_id"])
    loc = np.zeros((len(traj), len(ids), 3))
    vis = np.zeros((len(traj), len(ids)), dtype=bool)
    for r, fr in enumerate(traj):
        for o in fr["objects"]:
            loc[r, col[o["object_id"]]] = o["location"]
            vis[r, col[o["object_id"]]] = bool(o.get("inside_camera_view", True))
    return np.array([fr["frame_id"] for fr in traj]), loc, vis


def speed_labels(ann: dict, frame_indices, *, shown_by: int | None = None) -> float:
    """The clip's speed label (see the module docstring): location units per video frame.

    ``shown_by=n``: only the objects in view at both frames of a consecutive pair among the first ``n``.
    """
    ids, loc, vis = trajectory_arrays(ann)
    row = {f: r for r, f in enumerate(ids)}
    frames = [int(f) for f in frame_indices]
    missing = [f for f in frames if f not in row]
    if missing:
        raise ValueError(f"annotation {ann.get('video_filename')} has no trajectory entry for frames {missing[:5]}")
    counted = np.ones(vis.shape[1], dtype=bool)
    if shown_by is not None:
        if shown_by < 2:
            raise ValueError(f"shown_by={shown_by}: an object's motion needs two input frames to be shown")
        counted = np.zeros(vis.shape[1], dtype=bool)
        for f0, f1 in zip(frames[:shown_by - 1], frames[1:shown_by]):
            counted |= vis[row[f0]] & vis[row[f1]]
    speeds = []
    for f0, f1 in zip(frames[:-1], frames[1:]):
        r0, r1 = row[f0], row[f1]
        both = vis[r0] & vis[r1] & counted
        if both.any():
            step = np.linalg.norm(loc[r1, both, :2] - loc[r0, both, :2], axis=1) / (f1 - f0)
            speeds.append(step)
    return float(np.concatenate(speeds).mean()) if speeds else 0.0


def clip_windows(video_frames: int, *, num_frames: int, stride: int, start: int, clips_per_video: int) -> list:
    """The video frames of each clip of a video: ``clips_per_video`` windows of ``num_frames`` frames taken every
    ``stride`` frames, their first frames spread evenly from ``start`` to the last one that fits."""
    last = video_frames - 1 - stride * (num_frames - 1)  # the last first frame that fits
    if last < start:
        raise ValueError(f"{video_frames} frames, fewer than one clip needs")
    starts = np.linspace(start, last, clips_per_video).round().astype(int)
    return [[int(s) + stride * k for k in range(num_frames)] for s in starts]


@dataclass
class ClevrerClips:
    """Decoded clips and labels of one split (what the experiments use)."""

    frames: np.ndarray  # uint8 [N, T, size, size, 3]
    speed: np.ndarray  # float [N]: location units per video frame, over the clip's frames, every visible object
    video_ids: np.ndarray  # int [N]
    speed_input: np.ndarray  # float [N]: the same from the input frames alone (the oracle's feature)
    speed_shown: np.ndarray  # float [N]: as ``speed``, only the objects whose motion the input frames show
    skipped: list = field(default_factory=list)  # (file, reason) of videos that could not be used
    meta: dict = field(default_factory=dict)

    def label(self, name: str) -> np.ndarray:
        """The speed label ``name``: "speed_shown" (the experiments') or "speed" (every visible object)."""
        if name not in LABELS:
            raise ValueError(f"unknown CLEVRER label {name!r}; valid: {', '.join(LABELS)}")
        return getattr(self, name)

    def __len__(self) -> int:
        return len(self.frames)


class ClevrerDataset:
    """CLEVRER clips with speed labels, from the official layout (or the twin).

    Each video gives ``clips_per_video`` clips (windows) of ``num_frames`` frames taken every ``stride``
    frames, their first frames spread evenly from ``start`` to the last one that fits the video;
    frames are resized to ``size`` x ``size``. Videos without an annotation (the test split) or that
    cannot be decoded are skipped with a warning and listed in ``skipped``. ``dataset[i]`` is (clip
    float tensor [T, 3, size, size] in [0, 1], the speed label ``label``: by default the experiments',
    ``speed_shown``).
    """

    def __init__(self, root: str | Path, split: str = "train", *, size: int = 64, num_frames: int = 15,
                 stride: int = 4, start: int = 0, clips_per_video: int = 1, num_input: int = 4,
                 max_videos: int | None = None, progress: bool = False, label: str = "speed_shown"):
        if label not in LABELS:
            raise ValueError(f"unknown CLEVRER label {label!r}; valid: {', '.join(LABELS)}")
        self.label = label
        if split not in SPLIT_START:
            raise ValueError(f"unknown CLEVRER split {split!r}; valid: {', '.join(SPLIT_START)}")
        root = Path(root)
        folder = root / f"video_{split}"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} not found. Download CLEVRER's video_{split}.zip and annotation_{split}.zip "
                f"from http://clevrer.csail.mit.edu into {root} (or generate the twin with "
                f"vjvcr.data.clevrer_twin.generate_clevrer)")
        videos = sorted(folder.glob("video_*/video_*.mp4"))
        if max_videos is not None:
            videos = videos[:max_videos]
        frames, speeds, inputs, shown, ids, skipped = [], [], [], [], [], []
        for vp in tqdm(videos, desc=f"CLEVRER {split}", disable=not progress):
            index = int(vp.stem.split("_")[1])
            ap = annotation_path(root, split, index)
            if not ap.exists():
                skipped.append((str(vp), "no annotation"))
                continue
            try:
                ann = json.loads(ap.read_text())
                windows = clip_windows(len(ann["motion_trajectory"]), num_frames=num_frames, stride=stride,
                                       start=start, clips_per_video=clips_per_video)
                video = read_frames(vp, indices=sorted({f for w in windows for f in w}), size=size)
                at = {f: i for i, f in enumerate(sorted({f for w in windows for f in w}))}
                clips = [video[[at[f] for f in w]] for w in windows]
                labels = [speed_labels(ann, w) for w in windows]
                from_input = [speed_labels(ann, w[:num_input]) for w in windows]
                of_shown = [speed_labels(ann, w, shown_by=num_input) for w in windows]
            except (VideoDecodeError, ValueError, KeyError, json.JSONDecodeError) as err:
                skipped.append((str(vp), str(err)))
                continue
            frames += clips
            speeds += labels
            inputs += from_input
            shown += of_shown
            ids += [index] * len(windows)
        report_skipped(f"CLEVRER {split}", skipped, total=len(videos), kept=len(frames), root=root)
        self.clips = ClevrerClips(np.stack(frames), np.array(speeds), np.array(ids), np.array(inputs),
                                  np.array(shown), skipped,
                                  meta=dict(root=str(root), split=split, size=size, num_frames=num_frames,
                                            stride=stride, start=start, clips_per_video=clips_per_video,
                                            speed_units="location units per frame"))

    @property
    def skipped(self) -> list:
        return self.clips.skipped

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i):
        clip = torch.from_numpy(self.clips.frames[i]).permute(0, 3, 1, 2).float() / 255
        return clip, float(self.clips.label(self.label)[i])
