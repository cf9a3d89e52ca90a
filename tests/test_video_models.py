"""The CLEVRER/CATER models, their training, and the multi-label mAP of Fig. 2."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vjvcr.config import SMOKE, TrainConfig, VideoDataConfig, VideoModelConfig
from vjvcr.models import to_float_frames
from vjvcr.runconfig import Options, RunConfig, build_model
from vjvcr.train import train
from vjvcr.steps.cater import multilabel_map
from vjvcr.video_models import VideoJEPA


@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes_and_latent_token(size):
    data = VideoDataConfig(size=size, num_input=3, num_frames=7)
    m = VideoJEPA(VideoModelConfig(channels=(8, 16), dim=24, depth=1, heads=2), data, latent_dim=5).eval()
    clip = torch.rand(2, 7, 3, size, size)
    x, y = m.split(clip)
    h_x = m.encoder(x)
    assert h_x.shape == (2, 3, 24)
    pred = m.predictor(h_x)
    assert pred.shape == (2, 4, 24)
    assert not torch.allclose(m.predictor(h_x, torch.ones(2, 5)), pred)  # z reaches the prediction
    frames = m.decoder(pred)
    assert frames.shape == (2, 4, 3, size, size) and 0 <= frames.min() and frames.max() <= 1


def test_temporal_every_mixes_time_at_every_scale():
    """``temporal="last"``: the first convolution sees one frame at a time (time is mixed once, in the 4x4 map);
    ``"every"``: it already mixes each full-resolution frame with its neighbours (kernel 3 in time), and so does
    every block after it. Both give one d-vector per frame."""
    from dataclasses import replace

    from vjvcr.video_models import VideoEncoder
    cfg = VideoModelConfig(channels=(8, 16), dim=24, depth=1, heads=2)
    frames = torch.rand(2, 5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    changed = frames.clone()
    changed[:, 0] = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))  # the first frame only
    for temporal, reach in (("last", 0), ("every", 1)):
        torch.manual_seed(0)
        enc = VideoEncoder(replace(cfg, temporal=temporal), size=32).eval()
        seen = []
        enc.conv[0][0].register_forward_hook(lambda mod, inp, out: seen.append(out))  # the first convolution
        with torch.no_grad():
            a, b = enc(frames), enc(changed)
        assert a.shape == (2, 5, 24) and not torch.equal(a, b)
        first = [o.transpose(1, 2) if temporal == "every" else o.reshape(2, 5, *o.shape[1:]) for o in seen]
        moved = [not torch.equal(first[0][:, t], first[1][:, t]) for t in range(5)]  # [B, T, c, 32, 32]
        assert first[0].shape[-2:] == (32, 32) and moved == [t <= reach for t in range(5)], (temporal, moved)
        n3d = sum(isinstance(m, torch.nn.Conv3d) and m.kernel_size[0] == 3 for m in enc.modules())
        assert n3d == (1 if temporal == "last" else 1 + len(enc.conv))  # the 4x4 temporal layer, + every block
    with pytest.raises(ValueError, match="temporal"):
        VideoEncoder(replace(cfg, temporal="sometimes"), size=32)


def test_batch_norm_encoder_normalises_over_the_batch():
    """``norm="batch"``: every block of the encoder (and its temporal layer) normalises each channel over the batch,
    so in training mode one clip's state depends on the others in its batch; with SimVP's GroupNorm it does not.
    The decoder keeps GroupNorm either way."""
    from dataclasses import replace

    from vjvcr.video_models import VideoEncoder
    cfg = VideoModelConfig(channels=(8, 16), dim=24, depth=1, heads=2)
    frames = torch.rand(3, 4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    other = frames.clone()
    other[1:] = torch.rand(2, 4, 3, 16, 16, generator=torch.Generator().manual_seed(1))  # clip 0 kept
    for norm, shared in (("group", False), ("batch", True)):
        for temporal in ("last", "every"):
            torch.manual_seed(0)
            enc = VideoEncoder(replace(cfg, norm=norm, temporal=temporal), size=16).train()
            with torch.no_grad():
                a, b = enc(frames), enc(other)
            assert a.shape == (3, 4, 24)
            assert (not torch.allclose(a[0], b[0], atol=1e-6)) == shared, (norm, temporal)
            kinds = {type(m).__name__ for m in enc.modules() if "Norm" in type(m).__name__}
            assert kinds == ({"GroupNorm"} if norm == "group" else
                             {"BatchNorm3d"} | ({"BatchNorm2d"} if temporal == "last" else set())), kinds
    with pytest.raises(ValueError, match="norm"):
        VideoEncoder(replace(cfg, norm="layer"), size=16)


def test_fields_added_later_leave_earlier_runs_hashes_alone():
    """A CATER/CLEVRER run with the default layout hashes as the same run made before the field existed (its saved
    config lacks it): the encoder's ``temporal`` and ``norm``, the CATER twin's ``twin_scale`` and ``twin_objects``;
    set, each makes another run."""
    from dataclasses import replace

    from vjvcr.config import config_hash
    from vjvcr.runconfig import NOT_HASHED
    cfg = RunConfig("vjvcr", 0, SMOKE.cater, SMOKE.video_model, SMOKE.video_train)
    before = cfg.to_dict()
    del before["model"]["temporal"], before["model"]["norm"]  # a config.json written before the fields existed
    del before["data"]["twin_scale"], before["data"]["twin_objects"]
    assert RunConfig.from_dict(before).hash() == cfg.hash()
    for k in NOT_HASHED:
        before["train"].pop(k)
    assert cfg.hash() == config_hash(before)  # the hash of the earlier layout, computed independently
    assert replace(cfg, model=replace(SMOKE.video_model, temporal="every")).hash() != cfg.hash()
    assert replace(cfg, model=replace(SMOKE.video_model, norm="batch")).hash() != cfg.hash()
    assert replace(cfg, data=replace(SMOKE.cater, twin_scale=2.0)).hash() != cfg.hash()
    assert replace(cfg, data=replace(SMOKE.cater, twin_objects=(3, 5))).hash() != cfg.hash()


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="power of 2"):
        VideoJEPA(VideoModelConfig(), VideoDataConfig(size=48))


def test_to_float_frames_colour_layout():
    u8 = torch.randint(0, 256, (2, 3, 4, 5, 3), dtype=torch.uint8)
    f = to_float_frames(u8)
    assert f.shape == (2, 3, 3, 4, 5) and f[1, 2, 0, 3, 4] == u8[1, 2, 3, 4, 0].float() / 255


def clevrer_frames(n=96, size=16, frames=6):
    from vjvcr.data.clevrer_twin import render, simulate_scene
    from vjvcr.data.video import _resize

    out = []
    for s in range(n):
        sc = simulate_scene(np.random.default_rng(s), num_frames=2 * frames)
        out.append(_resize(render(sc, width=48, height=32)[::2], size))
    return np.stack(out)


def test_vjvcr_trains_on_video_without_collapse(tmp_path):
    data = VideoDataConfig(size=16, num_input=3, num_frames=6)
    model = VideoModelConfig(channels=(8, 16), dim=16, depth=1, heads=2)
    tc = TrainConfig(steps=60, batch_size=32, lr=2e-3, warmup_steps=5, var_weight=1.0, cov_weight=1.0,
                     checkpoint_every=30, num_snapshots=2)
    frames = clevrer_frames()
    res = train(tmp_path / "run", RunConfig("vjvcr", 0, data, model, tc), frames, progress=False, log_every=5)
    import json
    from dataclasses import replace

    log = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert np.mean([r["loss"] for r in log[-3:]]) < 0.85 * np.mean([r["loss"] for r in log[:2]])
    assert log[-1]["h_x_std_mean"] > 2 * log[0]["h_x_std_mean"]  # VC spreads the representation out
    assert res.step == 60
    # without VC (a = b = 0) the prediction loss alone lets the representation shrink
    train(tmp_path / "novc", RunConfig("vjvcr", 0, data, model, replace(tc, var_weight=0.0, cov_weight=0.0)),
          frames, progress=False, log_every=5)
    novc = [json.loads(ln) for ln in (tmp_path / "novc" / "metrics.jsonl").read_text().splitlines()]
    assert novc[-1]["h_x_std_mean"] < 0.5 * log[-1]["h_x_std_mean"]
    # the same run folder resumes as a finished run, and build_model rebuilds the video model
    assert isinstance(build_model(RunConfig("vjvcr", 0, data, model, tc)), VideoJEPA)


def test_discrete_latent_is_refused_for_video_models():
    cfg = RunConfig("vjvcr", 0, SMOKE.clevrer, SMOKE.video_model, SMOKE.video_train,
                    options=Options(latent="discrete", latent_dim=5))
    with pytest.raises(ValueError, match="sparse"):
        build_model(cfg)


def _ap(labels, scores):
    """Average precision written out: mean over positives of the precision at their rank."""
    order = np.argsort(-scores)
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return precision[hits == 1].mean()


def test_multilabel_map_formula_and_extremes():
    """mAP over clips (each clip's labels: the actions of its target frames) against AP written out."""
    rng = np.random.default_rng(0)
    n_tr, n_te, k = 240, 120, 6
    y_tr = (rng.random((n_tr, k)) < 0.4).astype(np.uint8)
    y_te = (rng.random((n_te, k)) < 0.4).astype(np.uint8)
    y_te[:, 5] = 0  # a class without positives in the test split is skipped
    tr, te = SimpleNamespace(clip_labels=y_tr), SimpleNamespace(clip_labels=y_te)
    informative = lambda y: y * 2.0 + 0.3 * rng.standard_normal(y.shape)  # noqa: E731
    res = multilabel_map(informative(y_tr), tr, informative(y_te), te)
    assert res["classes"] == 5 and res["map"] > 95
    want = 100 * np.mean([_ap(y_te[:, c], res["scores"][:, c]) for c in range(5)])
    assert res["map"] == pytest.approx(want, abs=1e-9)
    assert res["chance"] == pytest.approx(100 * y_te[:, :5].mean())
    noise = multilabel_map(rng.standard_normal((n_tr, k)), tr, rng.standard_normal((n_te, k)), te)
    assert abs(noise["map"] - noise["chance"]) < 20


def test_probe_with_penalty_chosen_on_the_training_set():
    from vjvcr.probes import linear_probe

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 50))
    y = x[:, 0] - 0.5 * x[:, 1] + 0.1 * rng.standard_normal(300)
    res = linear_probe(x[:200], y[:200], x[200:], y[200:], alpha=(0.1, 1.0, 1e5))
    assert res["r2"] > 0.9 and res["alpha"] in (0.1, 1.0)
    noise = linear_probe(x[:200], rng.standard_normal(200), x[200:], rng.standard_normal(100), alpha=(0.1, 1e5))
    assert noise["alpha"] == 1e5  # nothing to learn: the largest penalty, a near-constant prediction
