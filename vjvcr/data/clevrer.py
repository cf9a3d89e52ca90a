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

from .video import VideoDecodeError, read_frames, report_skipped, write_video

SHAPES = ("cube", "sphere", "cylinder")
MATERIALS = ("metal", "rubber")
COLORS = {  # the 8 CLEVR colours (RGB)
    "gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
    "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51),
}
SPLIT_START = {"train": 0, "validation": 10_000, "test": 15_000}
VIEW = (4.5, 3.0)  # half-width, half-height of the camera view on the ground plane (3:2, like 480x320)
RADIUS = 0.4  # every object's radius on the plane


def chunk_name(prefix: str, index: int) -> str:
    lo = index // 1000 * 1000
    return f"{prefix}_{lo:05d}-{lo + 1000:05d}"


def video_path(root: Path, split: str, index: int) -> Path:
    return Path(root) / f"video_{split}" / chunk_name("video", index) / f"video_{index:05d}.mp4"


def annotation_path(root: Path, split: str, index: int) -> Path:
    return Path(root) / f"annotation_{split}" / chunk_name("annotation", index) / f"annotation_{index:05d}.json"


# ----------------------------------------------------------------------------- the twin: physics

@dataclass
class Scene:
    """One simulated video: per-frame states of every object, and the collisions."""

    positions: np.ndarray  # [T, K, 2] ground-plane location at each frame
    velocities: np.ndarray  # [T, K, 2] units per frame, the velocity after the frame's events
    entered: np.ndarray  # [T, K] bool: the object is in the scene (has entered)
    collisions: list  # [{"object_ids": [i, j], "frame_id": f, "location": [x, y, z]}]
    shapes: list
    colors: list
    materials: list
    yaw: np.ndarray  # [K] fixed orientation about the vertical (radians)

    @property
    def inside_view(self) -> np.ndarray:
        """[T, K]: entered, and the disc's centre within the camera view."""
        hw, hh = VIEW
        p = self.positions
        return self.entered & (np.abs(p[..., 0]) <= hw) & (np.abs(p[..., 1]) <= hh)


def simulate_scene(rng: np.random.Generator, *, num_frames: int, num_objects: tuple[int, int] = (3, 6),
                   speed_range: tuple[float, float] = (0.04, 0.16), substeps: int = 10) -> Scene:
    """Simulate one scene (velocities in units per frame; ``speed_range`` is a per-scene scale).

    Each scene draws a typical speed s from ``speed_range``; every object moves at s times a
    factor in [0.7, 1.3]. Two or three objects start inside the view; the others enter
    through its border at a random frame in the first 60% of the video, heading inwards.
    Collisions between entered objects are elastic with equal masses: the velocity components
    along the line of centres are exchanged, so momentum and kinetic energy are conserved.
    """
    hw, hh = VIEW
    k = int(rng.integers(num_objects[0], num_objects[1] + 1))
    typical = rng.uniform(*speed_range)
    start_pos = np.zeros((k, 2))
    start_vel = np.zeros((k, 2))
    entry = np.zeros(k, dtype=int)
    n_inside = min(k, int(rng.integers(2, 4)))
    for i in range(k):
        speed = typical * rng.uniform(0.7, 1.3)
        for _ in range(100):
            if i < n_inside:  # inside the view, any direction
                p = rng.uniform([-hw + 1, -hh + 1], [hw - 1, hh - 1])
                ang = rng.uniform(0, 2 * np.pi)
            else:  # on the border, heading inwards (within 60 degrees of the centre's direction)
                side = rng.integers(4)
                t = rng.uniform(-0.8, 0.8)
                p = np.array([[hw, t * hh], [-hw, t * hh], [t * hw, hh], [t * hw, -hh]][side], dtype=float)
                inward = np.arctan2(-p[1], -p[0])
                ang = inward + rng.uniform(-np.pi / 3, np.pi / 3)
            if all(np.linalg.norm(p - start_pos[j]) > 3 * RADIUS for j in range(i)):
                break
        start_pos[i] = p
        start_vel[i] = speed * np.array([np.cos(ang), np.sin(ang)])
        entry[i] = 0 if i < n_inside else int(rng.integers(1, max(2, int(0.6 * num_frames))))

    pos, vel = start_pos.copy(), start_vel.copy()
    active = entry == 0
    positions = np.zeros((num_frames, k, 2))
    velocities = np.zeros((num_frames, k, 2))
    entered = np.zeros((num_frames, k), dtype=bool)
    collisions = []
    dt = 1.0 / substeps
    for f in range(num_frames):
        if f > 0:
            for i in np.flatnonzero(~active & (entry <= f)):  # entering: wait while the entry point is occupied
                if all(np.linalg.norm(pos[i] - pos[j]) > 2 * RADIUS for j in np.flatnonzero(active)):
                    active[i] = True
                else:
                    entry[i] += 1
            for _ in range(substeps):
                pos[active] += vel[active] * dt
                idx = np.flatnonzero(active)
                for a_ in range(len(idx)):
                    for b_ in range(a_ + 1, len(idx)):
                        i, j = idx[a_], idx[b_]
                        d = pos[j] - pos[i]
                        dist = np.linalg.norm(d)
                        if dist >= 2 * RADIUS or dist == 0:
                            continue
                        n = d / dist
                        approach = np.dot(vel[i] - vel[j], n)
                        if approach <= 0:  # already separating
                            continue
                        vel[i] -= approach * n  # equal masses: exchange the normal components
                        vel[j] += approach * n
                        collisions.append({"object_ids": [int(i), int(j)], "frame_id": f,
                                           "location": [*((pos[i] + pos[j]) / 2).round(6).tolist(), RADIUS]})
        # (objects not yet entered wait at their entry point: pos is only moved while active)
        positions[f], velocities[f], entered[f] = pos, np.where(active[:, None], vel, 0.0), active
    return Scene(positions, velocities, entered, collisions,
                 shapes=[SHAPES[i] for i in rng.integers(0, 3, k)],
                 colors=[list(COLORS)[i] for i in rng.integers(0, 8, k)],
                 materials=[MATERIALS[i] for i in rng.integers(0, 2, k)],
                 yaw=rng.uniform(0, np.pi / 2, k))


def annotation(scene: Scene, index: int, *, fps: int = 25) -> dict:
    """The scene as a CLEVRER annotation dict (velocities in units per second at ``fps``)."""
    inside = scene.inside_view
    traj = []
    for f in range(len(scene.positions)):
        objs = []
        for i in range(len(scene.shapes)):
            x, y = scene.positions[f, i]
            vx, vy = scene.velocities[f, i] * fps
            objs.append({"object_id": i, "location": [round(float(x), 6), round(float(y), 6), RADIUS],
                         "orientation": [0.0, 0.0, round(float(scene.yaw[i]), 6)],
                         "velocity": [round(float(vx), 6), round(float(vy), 6), 0.0],
                         "angular_velocity": [0.0, 0.0, 0.0], "inside_camera_view": bool(inside[f, i])})
        traj.append({"frame_id": f, "objects": objs})
    return {"scene_index": index, "video_filename": f"video_{index:05d}.mp4",
            "object_property": [{"object_id": i, "color": c, "material": m, "shape": s}
                                for i, (s, c, m) in enumerate(zip(scene.shapes, scene.colors, scene.materials))],
            "motion_trajectory": traj, "collision": scene.collisions}


# ----------------------------------------------------------------------------- the twin: drawing

def render(scene: Scene, *, width: int = 480, height: int = 320) -> np.ndarray:
    """Frames [T, H, W, 3] of the scene seen from above: grey floor, flat shaded shapes."""
    hw, hh = VIEW
    xs = (np.arange(width) + 0.5) / width * 2 * hw - hw
    ys = hh - (np.arange(height) + 0.5) / height * 2 * hh
    gx, gy = np.meshgrid(xs, ys)
    floor = (np.full((height, width, 3), 150.0) + 20 * (gy / hh)[..., None]).astype(np.float32)
    out = np.empty((len(scene.positions), height, width, 3), dtype=np.uint8)
    for f in range(len(scene.positions)):
        img = floor.copy()
        for i in np.flatnonzero(scene.entered[f]):
            cx, cy = scene.positions[f, i]
            dx, dy = gx - cx, gy - cy
            if np.abs(cx) > hw + RADIUS or np.abs(cy) > hh + RADIUS:
                continue
            r2 = (dx * dx + dy * dy) / RADIUS ** 2
            shape = scene.shapes[i]
            if shape == "cube":
                c, s = np.cos(scene.yaw[i]), np.sin(scene.yaw[i])
                u, v = c * dx + s * dy, -s * dx + c * dy
                mask = (np.abs(u) <= 0.8 * RADIUS) & (np.abs(v) <= 0.8 * RADIUS)
                shade = 1.0 - 0.25 * (u + v) / (2 * RADIUS)
            elif shape == "sphere":
                mask = r2 <= 1
                shade = 1.15 - 0.45 * np.sqrt(np.clip(((dx + 0.3 * RADIUS) ** 2 + (dy - 0.3 * RADIUS) ** 2)
                                                      / RADIUS ** 2, 0, 1))
            else:  # cylinder: a disc with a darker rim
                mask = r2 <= 1
                shade = np.where(r2 > 0.6, 0.7, 1.0)
            colour = np.array(COLORS[scene.colors[i]], dtype=np.float32)
            if scene.materials[i] == "metal":  # a specular highlight
                shade = shade + 0.6 * np.exp(-((dx + 0.25 * RADIUS) ** 2 + (dy - 0.25 * RADIUS) ** 2) / (0.02 * RADIUS))
            pix = np.clip(colour * np.asarray(shade, dtype=np.float32)[..., None], 0, 255)
            img = np.where(mask[..., None], pix, img)
        out[f] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def generate_clevrer(root: str | Path, *, num_train: int, num_validation: int, num_frames: int = 128,
                     width: int = 480, height: int = 320, fps: int = 25, seed: int = 0,
                     speed_range: tuple[float, float] = (0.04, 0.16), progress: bool = True) -> Path:
    """Write a CLEVRER twin (videos and annotations, train and validation) under ``root``.

    Seeded per video (seed, split, index), so a partly written twin is completed, not redone:
    a video whose mp4 and JSON both exist is skipped.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    jobs = [("train", SPLIT_START["train"] + i) for i in range(num_train)]
    jobs += [("validation", SPLIT_START["validation"] + i) for i in range(num_validation)]
    for split, index in tqdm(jobs, desc="CLEVRER twin", disable=not progress):
        vp, ap = video_path(root, split, index), annotation_path(root, split, index)
        if vp.exists() and ap.exists():
            continue
        rng = np.random.default_rng([seed, index])
        scene = simulate_scene(rng, num_frames=num_frames, speed_range=speed_range)
        write_video(vp, render(scene, width=width, height=height), fps=fps)
        ap.parent.mkdir(parents=True, exist_ok=True)
        ap.write_text(json.dumps(annotation(scene, index, fps=fps)))
    (root / "twin.json").write_text(json.dumps(dict(generator="vjvcr.data.clevrer.generate_clevrer",
                                                    num_train=num_train, num_validation=num_validation,
                                                    num_frames=num_frames, width=width, height=height,
                                                    fps=fps, seed=seed, speed_range=list(speed_range)), indent=1))
    return root


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


def speed_labels(ann: dict, frame_indices) -> float:
    """The clip's speed label (see the module docstring): location units per video frame."""
    ids, loc, vis = trajectory_arrays(ann)
    row = {f: r for r, f in enumerate(ids)}
    frames = [int(f) for f in frame_indices]
    missing = [f for f in frames if f not in row]
    if missing:
        raise ValueError(f"annotation {ann.get('video_filename')} has no trajectory entry for frames {missing[:5]}")
    speeds = []
    for f0, f1 in zip(frames[:-1], frames[1:]):
        r0, r1 = row[f0], row[f1]
        both = vis[r0] & vis[r1]
        if both.any():
            step = np.linalg.norm(loc[r1, both, :2] - loc[r0, both, :2], axis=1) / (f1 - f0)
            speeds.append(step)
    return float(np.concatenate(speeds).mean()) if speeds else 0.0


@dataclass
class ClevrerClips:
    """Decoded clips and labels of one split (what the experiments use)."""

    frames: np.ndarray  # uint8 [N, T, size, size, 3]
    speed: np.ndarray  # float [N]: location units per video frame
    video_ids: np.ndarray  # int [N]
    skipped: list = field(default_factory=list)  # (file, reason) of videos that could not be used
    meta: dict = field(default_factory=dict)

    @property
    def mean_speed(self) -> np.ndarray:  # the name the speed probe reads
        return self.speed

    def __len__(self) -> int:
        return len(self.frames)


class ClevrerDataset:
    """CLEVRER clips with speed labels, from the official layout (or the twin).

    Each video gives one clip of ``num_frames`` frames taken every ``stride`` frames from
    ``start``; frames are resized to ``size`` x ``size``. Videos without an annotation (the
    test split) or that cannot be decoded are skipped with a warning and listed in ``skipped``.
    ``dataset[i]`` is (clip float tensor [T, 3, size, size] in [0, 1], speed).
    """

    def __init__(self, root: str | Path, split: str = "train", *, size: int = 64, num_frames: int = 15,
                 stride: int = 4, start: int = 0, max_videos: int | None = None, progress: bool = False):
        from tqdm.auto import tqdm

        if split not in SPLIT_START:
            raise ValueError(f"unknown CLEVRER split {split!r}; valid: {', '.join(SPLIT_START)}")
        root = Path(root)
        folder = root / f"video_{split}"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} not found. Download CLEVRER's video_{split}.zip and annotation_{split}.zip "
                f"from http://clevrer.csail.mit.edu into {root} (or generate the twin with "
                f"vjvcr.data.clevrer.generate_clevrer)")
        videos = sorted(folder.glob("video_*/video_*.mp4"))
        if max_videos is not None:
            videos = videos[:max_videos]
        indices = [start + stride * k for k in range(num_frames)]
        frames, speeds, ids, skipped = [], [], [], []
        for vp in tqdm(videos, desc=f"CLEVRER {split}", disable=not progress):
            index = int(vp.stem.split("_")[1])
            ap = annotation_path(root, split, index)
            if not ap.exists():
                skipped.append((str(vp), "no annotation"))
                continue
            try:
                clip = read_frames(vp, indices=indices, size=size)
                label = speed_labels(json.loads(ap.read_text()), indices)
            except (VideoDecodeError, ValueError, json.JSONDecodeError) as err:
                skipped.append((str(vp), str(err)))
                continue
            frames.append(clip)
            speeds.append(label)
            ids.append(index)
        report_skipped(f"CLEVRER {split}", skipped, total=len(videos), kept=len(frames), root=root)
        self.clips = ClevrerClips(np.stack(frames), np.array(speeds), np.array(ids), skipped,
                                  meta=dict(root=str(root), split=split, size=size, num_frames=num_frames,
                                            stride=stride, start=start, speed_units="location units per frame"))

    @property
    def skipped(self) -> list:
        return self.clips.skipped

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i):
        import torch

        clip = torch.from_numpy(self.clips.frames[i]).permute(0, 3, 1, 2).float() / 255
        return clip, float(self.clips.speed[i])
