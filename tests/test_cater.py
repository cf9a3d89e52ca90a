"""CATER: task-1/task-2 label rules, the twin's kinematic rules, and the loader on the official layout."""
import itertools
import json
import warnings

import numpy as np
import pytest

from vjvcr.data import cater
from vjvcr.data.cater import CaterDataset, labels_from_scene, read_list
from vjvcr.data.cater_twin import generate_cater, plan_scene

# CATER's task-1 table, written out again here
TABLE = {("sphere", "slide"): 0, ("sphere", "pick_place"): 1, ("spl", "slide"): 2, ("spl", "pick_place"): 3,
         ("spl", "rotate"): 4, ("cylinder", "pick_place"): 5, ("cylinder", "slide"): 6, ("cylinder", "rotate"): 7,
         ("cube", "slide"): 8, ("cube", "pick_place"): 9, ("cube", "rotate"): 10, ("cone", "contain"): 11,
         ("cone", "pick_place"): 12, ("cone", "slide"): 13}


def test_task2_has_301_classes():
    mirror = {"before": "after", "after": "before", "during": "during"}
    triples = set(itertools.product(range(14), range(14), ("before", "during", "after")))
    assert len(triples) == 588
    unique = {min((a, b, r), (b, a, mirror[r])) for a, b, r in triples}
    assert len(unique) == 301 == len(cater.TASK2_CLASSES) == cater.TASKS["actions_order_uniq"]
    assert cater.TASKS["actions_present"] == 14 and dict(zip(cater.TASK1_CLASSES, range(14))) == TABLE


def test_task2_label_of_a_pair_and_its_mirror_agree():
    scene = {"objects": [{"instance": "Cube_1", "shape": "cube"}, {"instance": "Cone_2", "shape": "cone"}],
             "movements": {"Cube_1": [["_slide", None, 0, 20]], "Cone_2": [["_pick_place", None, 30, 55]]}}
    ids = labels_from_scene(scene, "actions_order_uniq")
    assert len(ids) == 1  # (cube slide before cone pick_place) == (cone pick_place after cube slide)
    assert cater.TASK2_CLASSES[ids[0]] == (8, 12, "before")
    scene["movements"]["Cone_2"] = [["_pick_place", None, 10, 35]]
    assert cater.TASK2_CLASSES[labels_from_scene(scene, "actions_order_uniq")[0]] == (8, 12, "during")
    assert labels_from_scene(scene) == [8, 12]


@pytest.mark.parametrize("seed", range(40))
def test_twin_scenes_follow_cater_rules(seed):
    scene = plan_scene(np.random.default_rng(seed), num_frames=300)
    objs = scene["objects"]
    assert 5 <= len(objs) <= 10
    assert objs[0]["shape"] == "spl" and objs[1]["shape"] == objs[2]["shape"] == "cone"
    shape = {o["instance"]: o["shape"] for o in objs}
    moves = [(inst, *m) for inst, ms in scene["movements"].items() for m in ms]
    assert moves
    contained = {}
    for inst, action, other, start, end in moves:
        assert 20 <= end - start + 1 <= 30
        if shape[inst] in ("sphere", "cone"):
            assert action != "_rotate"
        if action == "_contain":
            assert shape[inst] == "cone" and shape[other] in ("cone", "sphere", "spl")
            contained[other] = end
        else:
            assert other is None
    for inst, end in contained.items():  # a contained object never moves by itself afterwards
        assert all(m[2] <= end for m in scene["movements"][inst])
    for t in range(300):  # at most 2 objects move at any frame
        assert sum(start <= t <= end for _, _, _, start, end in moves) <= 2
    # task-1 labels, recomputed with the table above
    want = sorted({TABLE[(shape[i], a.lstrip("_"))] for i, a, *_ in moves})
    assert labels_from_scene(scene) == want and all(0 <= c < 14 for c in want)


def test_the_twins_object_options_scale_the_drawn_radius_and_set_the_count():
    """``scale`` multiplies every radius: a blue sphere's disc covers scale² the pixels (pi r² on a 160x160 view of
    the 8 x 8 table); ``num_objects`` bounds the objects of a scene and ``plan_scene`` keeps them apart by the
    scaled radii."""
    from vjvcr.data.cater_twin import render

    ball = {"objects": [{"instance": "Sphere_0", "shape": "sphere", "size": "large", "color": "blue"}]}
    traj = {"state": np.zeros((1, 1, 4)), "visible": np.ones((1, 1), dtype=bool)}  # at the centre, on the table
    px_per_unit = 160 / (2 * (cater.TABLE + 1))
    for scale in (1.0, 2.0):
        frame = render(ball, traj, width=160, height=160, scale=scale)[0]
        area = np.all(frame == cater.COLORS["blue"], axis=-1).sum()
        want = np.pi * (cater.SIZES["large"] * scale * px_per_unit) ** 2
        assert abs(area - want) < 0.05 * want, (scale, area, want)
    counts = set()
    for seed in range(30):
        objs = plan_scene(np.random.default_rng(seed), num_frames=60, num_objects=(3, 5), scale=2.0)["objects"]
        counts.add(len(objs))
        for a, b in itertools.combinations(objs, 2):
            assert a["3d_coords"][2] == 2.0 * cater.SIZES[a["size"]]
            gap = np.hypot(*np.subtract(a["3d_coords"][:2], b["3d_coords"][:2]))
            assert gap > 2.0 * (cater.SIZES[a["size"]] + cater.SIZES[b["size"]]) + 0.1  # none overlaps
    assert counts == {3, 4, 5}


def test_the_twins_object_options_are_a_config_with_their_own_twin_and_clips(tmp_path):
    """``VideoDataConfig.twin_scale`` / ``twin_objects`` reach the generator and name their own twin and clips; at
    their defaults the twin and clips keep the names they had before the fields existed."""
    from dataclasses import asdict, replace

    from vjvcr.config import SMOKE, VideoDataConfig, config_hash
    from vjvcr.datasets import TWIN_VERSION, ClipSet

    cfg = SMOKE.cater
    plain = ClipSet("cater", "train", cfg)
    earlier = dict(n=(cfg.num_train, cfg.num_test), frames=cfg.twin_frames, w=cfg.twin_width, h=cfg.twin_height,
                   seed=0, version=TWIN_VERSION["cater"])  # the twin's parameters before the fields existed
    assert plain.root(tmp_path)[0].name == f"cater_{config_hash(earlier)}"
    clip = {k: v for k, v in asdict(cfg).items() if k not in ("twin_scale", "twin_objects")}
    key = config_hash(dict(source=dict(kind="twin", **earlier), split="train", clip=clip, version=3))
    assert plain.path(tmp_path).name == f"cater_train_{key}.npz"
    big = ClipSet("cater", "train", replace(cfg, twin_scale=2.0, twin_objects=[3, 4]))  # a list, as from JSON
    assert big.objects() == {"twin_scale": 2.0, "twin_objects": (3, 4)}
    assert big.root(tmp_path)[0] != plain.root(tmp_path)[0] and big.path(tmp_path) != plain.path(tmp_path)
    root, _ = big.ensure_source(tmp_path)
    counts = [len(json.loads(f.read_text())["objects"]) for f in (root / "scenes").glob("*.json")]
    assert len(counts) == cfg.num_train + cfg.num_test and set(counts) <= {3, 4}
    assert json.loads((root / "twin.json").read_text())["object_scale"] == 2.0
    with pytest.raises(ValueError, match="CLEVRER twin has no such options"):
        ClipSet("clevrer", "train", replace(SMOKE.clevrer, twin_scale=2.0))
    for bad in (dict(twin_scale=0.0), dict(twin_objects=(2, 5)), dict(twin_objects=(5, 4))):
        with pytest.raises(ValueError, match="twin_scale"):
            VideoDataConfig(**bad)


def test_list_parser(tmp_path):
    p = tmp_path / "l.txt"
    p.write_text("CATER_new_000001.avi 3,5,11\nCATER_new_000002.avi 0\n\n")
    assert read_list(p) == [("CATER_new_000001.avi", [3, 5, 11]), ("CATER_new_000002.avi", [0])]


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    root = tmp_path_factory.mktemp("cater")
    generate_cater(root, num_videos=10, num_frames=40, width=64, height=48, progress=False)
    return root


def test_twin_writes_the_official_layout_and_lists(twin):
    for task in ("actions_present", "actions_order_uniq"):
        train, val = read_list(twin / f"lists/{task}/train.txt"), read_list(twin / f"lists/{task}/val.txt")
        assert len(train) == 7 and len(val) == 3
        assert not {n for n, _ in train} & {n for n, _ in val}
        for name, ids in train + val:
            assert (twin / "videos" / name).exists()
            scene = json.loads((twin / "scenes" / name.replace(".avi", ".json")).read_text())
            assert ids == labels_from_scene(scene, task)


def test_loader_reads_labels_and_skips_a_corrupt_video(twin, tmp_path):
    import shutil

    root = tmp_path / "cater"
    shutil.copytree(twin, root)
    names = [n for n, _ in read_list(root / "lists/actions_present/train.txt")]
    (root / "videos" / names[1]).write_bytes(b"RIFF" + bytes(300))  # a corrupt AVI, like CATER's 004798
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = CaterDataset(root, "train", size=16, num_frames=4, stride=3, clips_per_video=2)
    assert ds.num_skipped == 1 and names[1] not in ds.clips.names
    assert any("skipped 1 of 7" in str(x.message) for x in w)
    assert ds.clips.frames.shape == (12, 4, 16, 16, 3) and ds.clips.labels.shape == (6, 14)
    want = dict(read_list(root / "lists/actions_present/train.txt"))
    for row, name in zip(ds.clips.labels, ds.clips.names):
        assert sorted(np.flatnonzero(row).tolist()) == want[name]
    clip, label = ds[3]
    assert clip.shape == (4, 3, 16, 16) and label.tolist() == ds.clips.clip_labels[3].tolist()
    # a clip's labels are the actions of its target frames: never more than its whole video's
    assert (ds.clips.clip_labels <= ds.clips.labels[ds.clips.clip_video]).all()
    assert ds.clips.meta["clip_labels"] == "target frames"
    ds2 = CaterDataset(root, "val", "actions_order_uniq", size=16, num_frames=4, clips_per_video=1)
    assert ds2.clips.labels.shape == (3, 301)


def test_missing_dataset_and_bad_task_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="CATER"):
        CaterDataset(tmp_path, "train")
    with pytest.raises(ValueError, match="actions_present"):
        CaterDataset(tmp_path, "train", task="localize")


def test_a_clips_labels_are_the_actions_overlapping_its_target_frames():
    """A hand-made scene: three movements, windows before, across and after them."""
    from vjvcr.data.cater import TASK1_INDEX, movement_events, window_labels

    scene = {"objects": [{"instance": "Cube_3", "shape": "cube"}, {"instance": "Cone_1", "shape": "cone"},
                         {"instance": "Spl_0", "shape": "spl"}],
             "movements": {"Cube_3": [["_slide", None, 10, 29], ["_rotate", None, 60, 80]],
                           "Cone_1": [["_contain", "Spl_0", 25, 49]], "Spl_0": [["_no_op", None, 0, 5]]}}
    events = movement_events(scene)
    slide, rotate, contain = TASK1_INDEX[("cube", "slide")], TASK1_INDEX[("cube", "rotate")], TASK1_INDEX[("cone", "contain")]
    assert sorted(events) == sorted([(slide, 10, 29), (rotate, 60, 80), (contain, 25, 49)])  # no_op labels nothing

    def on(first, last):
        hot, cover = window_labels(events, first, last, 14)
        return {k for k in range(14) if hot[k]}, cover

    assert on(0, 9)[0] == set()  # before anything moves
    hit, cover = on(20, 29)  # the slide's end and the contain's start
    assert hit == {slide, contain} and cover[slide] == 1.0 and cover[contain] == 0.5
    assert on(29, 29)[0] == {slide, contain}  # the last frame of a movement still counts
    assert on(50, 59)[0] == set()  # between movements: nothing, although the video has three
    hit, cover = on(75, 90)
    assert hit == {rotate} and cover[rotate] == pytest.approx(6 / 16)


@pytest.mark.slow
def test_fig2_rows_are_the_same_computed_in_worker_processes(tmp_path):
    """Each CATER run's z* inference and classifiers give the same numbers in a 1-thread worker process as here."""
    import pandas as pd
    import torch

    from vjvcr.context import setup
    from vjvcr.steps.cater import run_cater

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what each of the two workers uses
    try:
        here = setup("smoke", tmp_path / "here", tmp_path / "data", seeds=(0,), workers=1)
        run_cater(here)  # trains the runs, then evaluates them in this process
        workers = setup("smoke", tmp_path / "workers", tmp_path / "data", seeds=(0,), workers=2)
        run_cater(workers)  # the same runs, now finished: evaluated in two worker processes
    finally:
        torch.set_num_threads(threads)
    a, b = (pd.read_csv(ctx.out_dir / "fig2_cater_map_per_seed.csv") for ctx in (here, workers))
    assert len(a) == len(b) > 5 and list(a["model"]) == list(b["model"])
    pd.testing.assert_frame_equal(a, b)
    # a Fig. 2 step without the data step (budget_probe's) has no data summary: the step names its profile itself
    assert not (here.out_dir / "data_summary.json").exists()
    assert "profile `smoke`" in (here.out_dir / "fig2.md").read_text()
