"""CLEVRER and CATER clips for the steps: the real datasets when present, else their synthetic twins.

Data: the real datasets when they are in ``DATA/clevrer`` (official layout: ``video_train/``,
``annotation_train/``, ...) and ``DATA/cater`` (``videos/``, ``lists/``); otherwise the synthetic
twins, generated once into ``DATA/twins/``. Decoded clips are cached in ``DATA/clips/``.
"""
from __future__ import annotations

from pathlib import Path

from ..config import config_hash

_CLIPS: dict = {}  # decoded clip sets already loaded in this process


def dataset_root(ctx, name: str) -> tuple[Path, str]:
    """(root, "real" or "twin"): ``DATA/<name>`` when it holds the official layout, else the twin's folder."""
    real = ctx.data_dir / name
    marker = real / ("video_train" if name == "clevrer" else "lists/actions_present")
    if marker.is_dir():
        return real, "real"
    v = getattr(ctx.profile, name)
    key = config_hash(dict(n=(v.num_train, v.num_test), frames=v.twin_frames, w=v.twin_width, h=v.twin_height,
                           seed=0, version=1))
    return ctx.data_dir / "twins" / f"{name}_{key}", "twin"


def ensure_twin(ctx, name: str) -> tuple[Path, str]:
    """Generate the twin of ``name`` (unless real data is there); resumable, skipped when complete."""
    root, kind = dataset_root(ctx, name)
    if kind == "twin" and not (root / "twin.json").exists():
        v = getattr(ctx.profile, name)
        if name == "clevrer":
            from ..data.clevrer_twin import generate_clevrer

            generate_clevrer(root, num_train=v.num_train, num_validation=v.num_test, num_frames=v.twin_frames,
                             width=v.twin_width, height=v.twin_height, seed=0)
        else:
            from ..data.cater_twin import generate_cater

            generate_cater(root, num_videos=v.num_train + v.num_test, num_frames=v.twin_frames,
                           width=v.twin_width, height=v.twin_height, seed=0,
                           train_fraction=v.num_train / (v.num_train + v.num_test))
    return root, kind


SPLITS = {"clevrer": ("train", "validation"), "cater": ("train", "val")}


def clips_path(ctx, name: str, split: str) -> Path:
    root, kind = dataset_root(ctx, name)
    v = getattr(ctx.profile, name)
    key = config_hash(dict(root=str(root), kind=kind, split=split, clip=v.__dict__, version=1))
    return ctx.data_dir / "clips" / f"{name}_{split}_{key}.npz"


def load_video_clips(ctx, name: str, split: str):
    """Decoded clips of one split (ClevrerClips or CaterClips), from the cache or the video files."""
    from ..data import cater, clevrer
    from ..data.video import load_clips, save_clips

    path = clips_path(ctx, name, split)
    if path in _CLIPS:
        return _CLIPS[path]
    cls = clevrer.ClevrerClips if name == "clevrer" else cater.CaterClips
    if path.exists():
        try:
            _CLIPS[path] = load_clips(path, cls)
            return _CLIPS[path]
        except Exception as err:  # an interrupted write: decode again
            import warnings

            warnings.warn(f"cached clips {path} are unreadable ({err}); decoding the videos again")
    root, kind = ensure_twin(ctx, name)
    v = getattr(ctx.profile, name)
    limit = v.num_train if split == "train" else v.num_test
    if name == "clevrer":
        ds = clevrer.ClevrerDataset(root, split, size=v.size, num_frames=v.num_frames, stride=v.stride,
                                    start=v.start, max_videos=limit, progress=True)
    else:
        ds = cater.CaterDataset(root, split, "actions_present", size=v.size, num_frames=v.num_frames,
                                stride=v.stride, clips_per_video=v.clips_per_video, max_videos=limit,
                                progress=True)
    ds.clips.meta["source"] = kind
    save_clips(ds.clips, path)
    _CLIPS[path] = ds.clips
    return ds.clips
