"""Reading and writing video files with PyAV (FFmpeg), shared by the CLEVRER and CATER code.

Frames travel as uint8 RGB arrays [T, H, W, 3]. ``read_frames`` resizes every frame to a
square ``size`` x ``size`` (area-averaging, so small objects are not aliased away); the
aspect ratio is not kept (480x320 CLEVRER and 320x240 CATER frames are squeezed).
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..fileio import DamagedFileError, atomic_path


class VideoDecodeError(RuntimeError):
    """A video file could not be decoded (corrupt, truncated, or too short)."""


def write_video(path: str | Path, frames: np.ndarray, *, fps: int = 25, codec: str | None = None) -> Path:
    """Write uint8 RGB frames [T, H, W, 3]; ``.mp4`` -> H.264 (like CLEVRER), ``.avi`` -> MJPEG (like CATER).

    H.264 is written lossless (x264 at qp 0): its decoded 4:2:0 planes are exactly ``yuv420_planes`` of the
    frames, so two writes of the same frames decode to the same pixels even when x264's bits differ.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got shape {frames.shape}")
    codec = codec or ("mjpeg" if path.suffix.lower() == ".avi" else "libx264")
    with atomic_path(path) as tmp:
        _encode(tmp, frames, fps, codec)
    return path


def _encode(tmp: Path, frames: np.ndarray, fps: int, codec: str) -> None:
    import av  # PyAV is optional: a machine without it skips CLEVRER and CATER (--skip-video)

    with av.open(str(tmp), mode="w", format="mp4" if codec == "libx264" else "avi") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        if codec == "mjpeg":
            stream.pix_fmt = "yuvj420p"
            stream.options = {"q:v": "3"}  # near-lossless JPEG frames (CATER's AVIs are MJPEG)
        else:
            stream.pix_fmt = "yuv420p"
            # lossless (qp 0): with crf 18, x264 (one thread, the same YUV bytes) wrote other bits for 28 of 160
            # videos, a level or two at a few pixels; at qp 0 for none, and every encoding decodes to the planes
            stream.options = {"qp": "0", "preset": "veryfast", "threads": "1"}
            stream.codec_context.thread_count = 1
        for frame in frames:
            for packet in stream.encode(_yuv_frame(frame, stream.pix_fmt)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# BT.601 RGB -> YCbCr rows (Y, Cb, Cr) per unit of R, G, B in [0, 1]; FFmpeg's default matrix.
_BT601 = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def yuv420_planes(rgb: np.ndarray, *, full_range: bool) -> list[np.ndarray]:
    """The Y, Cb and Cr planes (uint8) of one uint8 RGB frame [H, W, 3], chroma averaged over 2x2 pixels.

    ``full_range`` is JPEG's 0-255 range (yuvj420p); otherwise the video range Y 16-235, C 16-240.
    Done here rather than by FFmpeg's swscale, which PyAV runs threaded, so that the encoder's input is
    the same bytes every time (x264 itself still varies its bits now and then, which is why H.264 is written
    lossless: tests/test_reliability.py::test_two_fresh_twins_are_byte_identical).
    """
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"4:2:0 video needs an even frame size, got {w}x{h}; render an even width and height")
    r, g, b = (rgb[..., k].astype(np.float64) / 255.0 for k in range(3))
    # element by element, not a matrix product: BLAS may sum in another order from call to call
    ycc = np.stack([m[0] * r + m[1] * g + m[2] * b for m in _BT601], axis=-1)
    y, c = ycc[..., 0], ycc[..., 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))
    y, c = (255 * y, 128 + 255 * c) if full_range else (16 + 219 * y, 128 + 224 * c)
    return [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, c[..., 0], c[..., 1])]


def _yuv_frame(rgb: np.ndarray, pix_fmt: str):
    """``rgb`` as a VideoFrame in ``pix_fmt`` (yuv420p or yuvj420p) whose line padding is zeros.

    Encoders read the bytes past each line's end, so they are set rather than left uninitialised.
    """
    import av  # optional, as above

    out = av.VideoFrame(rgb.shape[1], rgb.shape[0], pix_fmt)
    for plane, values in zip(out.planes, yuv420_planes(rgb, full_range=pix_fmt == "yuvj420p")):
        buf = np.zeros((plane.height, plane.line_size), np.uint8)
        buf[:, :plane.width] = values
        plane.update(buf.tobytes())
    return out


def _resize(frames: np.ndarray, size: int) -> np.ndarray:

    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    t = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    out = F.interpolate(t, size=(size, size), mode="area" if min(frames.shape[1:3]) >= size else "bilinear")
    return out.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def read_frames(path: str | Path, *, indices=None, size: int | None = None) -> np.ndarray:
    """Decode a video into uint8 RGB [T, H, W, 3] (only the frames in ``indices`` when given).

    Raises VideoDecodeError naming the file when it cannot be decoded or lacks a requested frame.
    """
    import av  # optional, as above

    path = Path(path)
    wanted = None if indices is None else sorted(set(int(i) for i in indices))
    frames = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for k, frame in enumerate(container.decode(stream)):
                if wanted is None or k in wanted:
                    frames.append(frame.to_ndarray(format="rgb24"))
                if wanted is not None and k >= wanted[-1]:
                    break
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as err:
        raise VideoDecodeError(f"{path}: cannot decode ({type(err).__name__}: {err})") from err
    if wanted is not None and len(frames) < len(wanted):
        raise VideoDecodeError(f"{path}: has {len(frames)} of the {len(wanted)} frames asked for "
                               f"(last index {wanted[-1]}); the file is truncated or too short")
    if not frames:
        raise VideoDecodeError(f"{path}: no frames could be decoded")
    out = np.stack(frames)
    if indices is not None:  # the order (and repeats) asked for
        pos = {k: i for i, k in enumerate(wanted)}
        out = out[[pos[int(i)] for i in indices]]
    return _resize(out, size) if size else out


def report_skipped(what: str, skipped: list, *, total: int, kept: int, root) -> None:
    """Warn once about the videos a loader skipped, ``(file, reason)``; fail when none was usable."""
    if skipped:
        warnings.warn(f"{what}: skipped {len(skipped)} of {total} videos (first: {skipped[0][0]}: {skipped[0][1]})")
    if not kept:
        raise RuntimeError(f"no usable {what} video under {root} ({len(skipped)} skipped)")


def save_clips(clips, path: Path) -> None:
    """Cache a loader's decoded clips (every array field, plus meta and the skipped list) as .npz."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: v for k, v in vars(clips).items() if isinstance(v, np.ndarray)}
    meta = dict(clips.meta, skipped=clips.skipped)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def load_clips(path: Path, cls):
    """The inverse of ``save_clips`` for a clips dataclass ``cls`` (ClevrerClips, CaterClips).

    Raises DamagedFileError naming the file when it is cut or unreadable.
    """
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files if k != "meta"}
    except Exception as err:  # zipfile, pickle, EOF, JSON: whatever a cut file gives
        raise DamagedFileError(f"{path} is damaged ({type(err).__name__}); it is a cache: delete it and rerun "
                               f"(it is decoded again)") from None
    skipped = [tuple(s) for s in meta.pop("skipped", [])]
    wanted = {f.name for f in dataclasses.fields(cls)} - {"skipped", "meta"}
    if set(arrays) != wanted:
        raise DamagedFileError(f"{path} was written by another version of {cls.__name__} (it has "
                               f"{', '.join(sorted(set(arrays) - wanted) or ['nothing'])} extra and lacks "
                               f"{', '.join(sorted(wanted - set(arrays)) or ['nothing'])}); it is a cache: "
                               f"it is decoded again")
    return cls(**arrays, skipped=skipped, meta=meta)
