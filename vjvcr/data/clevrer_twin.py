"""The CLEVRER twin: a 2D elastic-collision simulation, drawn from above, written in CLEVRER's layout.

What it simulates and why is in ``vjvcr.data.clevrer``'s docstring; ``generate_clevrer`` writes
the videos and annotation JSON of both splits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .video import write_video
from .clevrer import COLORS, MATERIALS, RADIUS, SHAPES, SPLIT_START, VIEW, annotation_path, video_path


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
    (root / "twin.json").write_text(json.dumps(dict(generator="vjvcr.data.clevrer_twin.generate_clevrer",
                                                    num_train=num_train, num_validation=num_validation,
                                                    num_frames=num_frames, width=width, height=height,
                                                    fps=fps, seed=seed, speed_range=list(speed_range)), indent=1))
    return root


