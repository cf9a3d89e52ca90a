"""CLEVRER: the twin's physics, its annotations in the official layout, and the loader on them."""
import json
import warnings

import numpy as np
import pytest

from vjvcr.data import clevrer
from vjvcr.data.clevrer import RADIUS, ClevrerDataset
from vjvcr.data.clevrer_twin import generate_clevrer, simulate_scene


def busy_scenes(n=40):
    """Fast, crowded scenes so that collisions happen often."""
    return [simulate_scene(np.random.default_rng(s), num_frames=60, num_objects=(5, 6), speed_range=(0.12, 0.2))
            for s in range(n)]


def test_collisions_conserve_momentum_and_energy():
    checked = 0
    for sc in busy_scenes():
        per_frame = {}
        for c in sc.collisions:
            per_frame.setdefault(c["frame_id"], []).append(tuple(c["object_ids"]))
        for f, pairs in per_frame.items():
            objs = [o for p in pairs for o in p]
            if len(objs) != len(set(objs)) or not sc.entered[f - 1][objs].all():
                continue  # an object in two collisions in one frame, or one that just entered
            for i, j in pairs:
                before, after = sc.velocities[f - 1], sc.velocities[f]
                np.testing.assert_allclose(before[i] + before[j], after[i] + after[j], atol=1e-9)
                e0 = (before[i] ** 2).sum() + (before[j] ** 2).sum()
                e1 = (after[i] ** 2).sum() + (after[j] ** 2).sum()
                assert e1 == pytest.approx(e0, rel=1e-9)
                checked += 1
    assert checked >= 20


def test_recorded_collisions_match_the_trajectories():
    for sc in busy_scenes():
        hit = {(c["frame_id"], o) for c in sc.collisions for o in c["object_ids"]}
        for c in sc.collisions:
            f, (i, j) = c["frame_id"], c["object_ids"]
            gap = np.linalg.norm(sc.positions[f, i] - sc.positions[f, j])
            reach = np.linalg.norm(sc.velocities[f, i]) + np.linalg.norm(sc.velocities[f, j])
            assert gap < 2 * RADIUS + reach + 1e-9  # they touched during this frame
            assert np.allclose(c["location"][:2], (sc.positions[f, i] + sc.positions[f, j]) / 2, atol=reach + 1e-6)
        # every velocity change of an object already in the scene is a recorded collision
        both = sc.entered[1:] & sc.entered[:-1]
        changed = np.linalg.norm(sc.velocities[1:] - sc.velocities[:-1], axis=-1) > 1e-12
        for f, o in zip(*np.nonzero(both & changed)):
            assert (f + 1, o) in hit
        # and between collisions objects move in straight lines at constant velocity
        for f in range(1, len(sc.positions)):
            for o in np.flatnonzero(sc.entered[f] & sc.entered[f - 1]):
                if (f, o) not in hit:
                    np.testing.assert_allclose(sc.positions[f, o] - sc.positions[f - 1, o], sc.velocities[f, o],
                                               atol=1e-9)
    assert sum(len(sc.collisions) for sc in busy_scenes()) > 20


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    root = tmp_path_factory.mktemp("clevrer")
    generate_clevrer(root, num_train=5, num_validation=2, num_frames=24, width=96, height=64, progress=False)
    return root


def test_twin_writes_the_official_layout(twin):
    assert (twin / "video_train/video_00000-01000/video_00004.mp4").exists()
    assert (twin / "video_validation/video_10000-11000/video_10001.mp4").exists()
    ann = json.loads((twin / "annotation_train/annotation_00000-01000/annotation_00003.json").read_text())
    assert set(ann) == {"scene_index", "video_filename", "object_property", "motion_trajectory", "collision"}
    assert ann["video_filename"] == "video_00003.mp4" and len(ann["motion_trajectory"]) == 24
    obj = ann["motion_trajectory"][5]["objects"][0]
    assert set(obj) == {"object_id", "location", "orientation", "velocity", "angular_velocity", "inside_camera_view"}
    assert len(ann["motion_trajectory"][0]["objects"]) == len(ann["object_property"])  # every object, every frame
    props = ann["object_property"][0]
    assert props["shape"] in clevrer.SHAPES and props["material"] in clevrer.MATERIALS
    assert props["color"] in clevrer.COLORS


def test_loader_reads_clips_and_speeds(twin):
    ds = ClevrerDataset(twin, "train", size=16, num_frames=5, stride=3)
    assert ds.clips.frames.shape == (5, 5, 16, 16, 3) and ds.clips.frames.dtype == np.uint8
    assert ds.clips.frames.std() > 5  # something is drawn
    clip, speed = ds[0]
    assert clip.shape == (5, 3, 16, 16) and 0 <= clip.min() and clip.max() <= 1
    # dataset[i] gives the experiments' label unless another is asked for (on this twin they differ for a clip)
    assert not np.array_equal(ds.clips.speed_shown, ds.clips.speed)
    assert [ds[k][1] for k in range(len(ds))] == list(ds.clips.speed_shown)
    every = ClevrerDataset(twin, "train", size=16, num_frames=5, stride=3, label="speed")
    assert [every[k][1] for k in range(len(every))] == list(every.clips.speed)
    with pytest.raises(ValueError, match="unknown CLEVRER label"):
        ClevrerDataset(twin, "train", label="velocity")
    # the label, recomputed here from the twin's own simulation
    for k, index in enumerate(ds.clips.video_ids):
        sc = simulate_scene(np.random.default_rng([0, int(index)]), num_frames=24)
        frames = [3 * j for j in range(5)]
        steps = []
        for f0, f1 in zip(frames[:-1], frames[1:]):
            vis = sc.inside_view[f0] & sc.inside_view[f1]
            steps += list(np.linalg.norm(sc.positions[f1, vis] - sc.positions[f0, vis], axis=1) / 3)
        assert ds.clips.speed[k] == pytest.approx(np.mean(steps), abs=2e-6)
        # the experiments' label: only the objects in view at both frames of a pair among the first num_input
        shown = np.zeros(sc.inside_view.shape[1], dtype=bool)
        for f0, f1 in zip(frames[:3], frames[1:4]):  # num_input = 4 (the loader's default)
            shown |= sc.inside_view[f0] & sc.inside_view[f1]
        steps = []
        for f0, f1 in zip(frames[:-1], frames[1:]):
            vis = sc.inside_view[f0] & sc.inside_view[f1] & shown
            steps += list(np.linalg.norm(sc.positions[f1, vis] - sc.positions[f0, vis], axis=1) / 3)
        assert ds.clips.speed_shown[k] == pytest.approx(np.mean(steps) if steps else 0.0, abs=2e-6)
    assert ds.skipped == []


def hand_annotation():
    """Three objects over frames 0-4 (units per frame along x): A in view throughout at speed 1; B in view
    only at frame 0, then gone (its motion is never shown); C out of view until frame 3, then moving at 3."""
    def obj(i, x, inside):
        return dict(object_id=i, location=[x, 0.0, 0.0], inside_camera_view=inside)

    traj = [dict(frame_id=f, objects=[obj(0, 1.0 * f, True), obj(1, 10 + 2.0 * f, f == 0),
                                      obj(2, -20 + 3.0 * f, f >= 3)]) for f in range(5)]
    return dict(video_filename="hand.mp4", motion_trajectory=traj, collision=[])


def test_speed_labels_by_hand():
    ann = hand_annotation()
    frames = [0, 1, 2, 3, 4]
    # every visible object: pairs (0,1), (1,2), (2,3) see A only; (3,4) sees A and C -> (1+1+1+1+3) / 5
    assert clevrer.speed_labels(ann, frames) == pytest.approx(7 / 5)
    # the input (frames 0-2) shows A's motion only: B is in view at one frame, C at none of them
    assert clevrer.speed_labels(ann, frames, shown_by=3) == pytest.approx(1.0)
    # an input reaching frame 4 shows C too
    assert clevrer.speed_labels(ann, frames, shown_by=5) == pytest.approx(7 / 5)
    # a stride of 2 frames: the steps are per video frame
    assert clevrer.speed_labels(ann, [0, 2, 4], shown_by=2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two input frames"):
        clevrer.speed_labels(ann, frames, shown_by=1)


def test_clips_label_names_and_stale_cache(tmp_path):
    from vjvcr.data.video import load_clips, save_clips
    from vjvcr.fileio import DamagedFileError

    n = 3
    clips = clevrer.ClevrerClips(np.zeros((n, 2, 4, 4, 3), np.uint8), np.arange(n) * 1.0, np.arange(n),
                                 np.zeros(n), np.arange(n) * 2.0)
    np.testing.assert_array_equal(clips.label("speed_shown"), [0, 2, 4])
    np.testing.assert_array_equal(clips.label("speed"), [0, 1, 2])
    with pytest.raises(ValueError, match="speed_shown"):
        clips.label("velocity")
    save_clips(clips, tmp_path / "new.npz")
    np.testing.assert_array_equal(load_clips(tmp_path / "new.npz", clevrer.ClevrerClips).speed_shown, [0, 2, 4])
    # a cache of an earlier version, without the speed_shown label, is refused with its name, not half-loaded
    with open(tmp_path / "old.npz", "wb") as f:
        np.savez(f, meta=np.array("{}"), frames=clips.frames, speed=clips.speed, video_ids=clips.video_ids,
                 speed_input=clips.speed_input)
    with pytest.raises(DamagedFileError, match="lacks speed_shown"):
        load_clips(tmp_path / "old.npz", clevrer.ClevrerClips)


def test_profile_refuses_an_unknown_clevrer_label():
    from dataclasses import replace

    from vjvcr.config import get_profile

    with pytest.raises(ValueError, match="clevrer_label"):
        replace(get_profile("smoke"), clevrer_label="velocity")
    from vjvcr.tables import CLEVRER_LABEL_TEXT

    for label in clevrer.LABELS:  # every label is accepted, and Table 1's caption can name it
        assert replace(get_profile("smoke"), clevrer_label=label).clevrer_label == label
        assert label in CLEVRER_LABEL_TEXT


def test_position_speed_agrees_with_velocity_field(twin):
    """Without collisions, |location step| per frame = |velocity| / fps (the twin writes units per second)."""
    ann = json.loads((twin / "annotation_train/annotation_00000-01000/annotation_00000.json").read_text())
    coll = {c["frame_id"] for c in ann["collision"]}
    _, loc, vis = clevrer.trajectory_arrays(ann)
    vel = np.array([[o["velocity"] for o in fr["objects"]] for fr in ann["motion_trajectory"]])
    for f in range(1, len(loc)):
        if f in coll:
            continue
        moving = vis[f] & vis[f - 1]
        step = np.linalg.norm(loc[f, moving, :2] - loc[f - 1, moving, :2], axis=1)
        np.testing.assert_allclose(step, np.linalg.norm(vel[f, moving, :2], axis=1) / 25, atol=1e-5)


def test_corrupt_video_is_skipped_and_counted(twin, tmp_path):
    import shutil

    root = tmp_path / "clevrer"
    shutil.copytree(twin, root)
    bad = root / "video_train/video_00000-01000/video_00002.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = ClevrerDataset(root, "train", size=16, num_frames=5, stride=3)
    assert len(ds) == 4 and 2 not in ds.clips.video_ids
    assert len(ds.skipped) == 1 and "video_00002.mp4" in ds.skipped[0][0]
    assert any("skipped 1 of 5" in str(x.message) for x in w)


def test_missing_dataset_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="video_train.zip"):
        ClevrerDataset(tmp_path, "train")
    with pytest.raises(ValueError, match="valid: train"):
        ClevrerDataset(tmp_path, "val")


def test_colour_conversion_gives_the_bt601_values():
    from vjvcr.data.video import yuv420_planes

    # textbook BT.601 codes of pure red, green, blue, white and black (video range and JPEG full range)
    video = {(255, 0, 0): (81, 90, 240), (0, 255, 0): (145, 54, 34), (0, 0, 255): (41, 240, 110),
             (255, 255, 255): (235, 128, 128), (0, 0, 0): (16, 128, 128)}
    full = {(255, 0, 0): (76, 85, 255), (0, 255, 0): (150, 43, 21), (0, 0, 255): (29, 255, 107),
            (255, 255, 255): (255, 128, 128), (0, 0, 0): (0, 128, 128)}
    for table, full_range in ((video, False), (full, True)):
        for rgb, want in table.items():
            frame = np.broadcast_to(np.array(rgb, np.uint8), (4, 6, 3))
            y, cb, cr = yuv420_planes(frame, full_range=full_range)
            assert y.shape == (4, 6) and cb.shape == cr.shape == (2, 3)
            got = (int(y[0, 0]), int(cb[0, 0]), int(cr[0, 0]))
            assert max(abs(a - b) for a, b in zip(got, want)) <= 1, (rgb, full_range, got, want)
    # chroma is the mean over each 2x2 block: half red, half black -> half red's colour difference
    frame = np.zeros((2, 2, 3), np.uint8)
    frame[0, :, 0] = 255
    _, cb, cr = yuv420_planes(frame, full_range=True)
    assert abs(int(cr[0, 0]) - (128 + 0.5 * 127.5)) <= 1 and abs(int(cb[0, 0]) - (128 - 0.5 * 0.168736 * 255)) <= 1
    with pytest.raises(ValueError, match="even"):
        yuv420_planes(np.zeros((3, 4, 3), np.uint8), full_range=False)


def test_h264_videos_decode_to_exactly_the_planes_written(tmp_path):
    """H.264 is written lossless: every decoded 4:2:0 plane equals the numpy conversion of the frame."""
    import av

    from vjvcr.data.video import write_video, yuv420_planes

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(6, 16, 24, 3), dtype=np.uint8)  # noise: the hardest case for a codec
    write_video(tmp_path / "v.mp4", frames)
    with av.open(str(tmp_path / "v.mp4")) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == len(frames)
    for frame, got in zip(frames, decoded):
        for want, plane in zip(yuv420_planes(frame, full_range=False), got.planes):
            rows = np.frombuffer(bytes(plane), np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
            assert np.array_equal(rows, want)


def test_clip_windows_spread_from_start_to_the_last_that_fits():
    from vjvcr.data.clevrer import clip_windows

    w = clip_windows(40, num_frames=4, stride=3, start=2, clips_per_video=3)
    assert w[0] == [2, 5, 8, 11] and w[-1] == [30, 33, 36, 39]  # 39 is the video's last frame
    assert w[1] == [16, 19, 22, 25]  # halfway between the first starts, 2 and 30
    with pytest.raises(ValueError, match="fewer than one clip"):
        clip_windows(10, num_frames=4, stride=3, start=2, clips_per_video=1)


def test_a_clip_cache_without_the_label_is_decoded_again_under_the_same_name(tmp_path):
    """A CLEVRER clip cache written before ``speed_shown`` existed is decoded again (with a warning naming what
    it lacks) into the same file, so the ids of the runs trained on it stay the same."""
    from vjvcr.config import get_profile
    from vjvcr.data.video import load_clips
    from vjvcr.datasets import ClipSet, _LOADED

    clip_set = ClipSet("clevrer", "train", get_profile("smoke").clevrer)
    fresh = clip_set.load(tmp_path)
    path, run_id = clip_set.path(tmp_path), clip_set.id(tmp_path)
    with open(path, "wb") as f:  # the earlier layout: every field but speed_shown
        np.savez(f, meta=np.array("{}"), frames=fresh.frames, speed=fresh.speed, video_ids=fresh.video_ids,
                 speed_input=fresh.speed_input)
    _LOADED.pop(path, None)
    with pytest.warns(UserWarning, match="lacks speed_shown"):
        again = clip_set.load(tmp_path)
    np.testing.assert_array_equal(again.speed_shown, fresh.speed_shown)
    assert clip_set.path(tmp_path) == path and clip_set.id(tmp_path) == run_id
    np.testing.assert_array_equal(load_clips(path, clevrer.ClevrerClips).speed_shown, fresh.speed_shown)
