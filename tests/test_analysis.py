"""RankMe, spectra and PSNR against hand computations."""
import numpy as np
import pytest

from vjvcr.analysis import PSNR_CAP_DB, components_for, psnr, rankme, spectrum


def test_rankme_of_full_rank_and_rank_one_matrices():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(500, 40)))  # orthonormal columns: equal singular values
    assert rankme(q) == pytest.approx(40, rel=1e-3)
    assert rankme(np.eye(16)) == pytest.approx(16, rel=1e-3)
    u, v = rng.normal(size=(300, 1)), rng.normal(size=(1, 24))
    assert rankme(u @ v) == pytest.approx(1.0, abs=1e-3)


def test_rankme_is_scale_invariant_and_bounded():
    x = np.random.default_rng(1).normal(size=(200, 30)) @ np.diag(np.linspace(0.1, 3, 30))
    assert rankme(7.5 * x) == pytest.approx(rankme(x), rel=1e-9)
    assert 1 <= rankme(x) <= 30


def test_rankme_matches_the_definition_on_a_small_example():
    x = np.diag([3.0, 1.0])  # singular values 3 and 1
    p = np.array([0.75, 0.25]) + 1e-7
    assert rankme(x) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-9)


def test_spectrum_sums_to_one_and_cumulative_ends_at_one():
    x = np.random.default_rng(2).normal(size=(100, 12))
    s = spectrum(x)
    assert s["normalized"].sum() == pytest.approx(1.0)
    assert np.all(np.diff(s["normalized"]) <= 1e-12)
    assert s["cumulative"][-1] == pytest.approx(1.0) and np.all(np.diff(s["cumulative"]) >= 0)
    # centring: a constant offset changes nothing
    np.testing.assert_allclose(spectrum(x + 5.0)["normalized"], s["normalized"], atol=1e-9)
    # a collapsed (rank-2) embedding needs 2 components, a spread one many more
    low = np.random.default_rng(3).normal(size=(100, 2)) @ np.random.default_rng(4).normal(size=(2, 12))
    assert components_for(spectrum(low)["cumulative"], 0.99) == 2
    assert components_for(s["cumulative"], 0.9) >= 8


def test_psnr_by_hand_and_identical_images():
    a = np.zeros((2, 2))
    b = np.array([[0.1, 0.0], [0.0, 0.0]])  # MSE = 0.01 / 4 = 0.0025 -> 10 log10(400) = 26.0206 dB
    assert psnr(b, a) == pytest.approx(10 * np.log10(1 / 0.0025))
    assert psnr(b, a) == pytest.approx(26.0206, abs=1e-4)
    assert psnr(a, a) == PSNR_CAP_DB
    assert psnr(2 * b, 2 * a, data_range=2.0) == pytest.approx(psnr(b, a))
    clips = np.stack([a, b])[:, None]  # per-clip values over the remaining axes
    np.testing.assert_allclose(psnr(clips, np.zeros_like(clips), axis=(1, 2, 3)), [PSNR_CAP_DB, 26.0206], atol=1e-4)


def test_psnr_floors_against_a_hand_computation():
    from vjvcr.analysis import psnr_floors

    # two clips of 4 frames (2 input, 2 target), 1x2 pixels, uint8
    clips = np.array([[[[0, 0]], [[255, 0]], [[255, 255]], [[0, 255]]],
                      [[[0, 0]], [[51, 51]], [[51, 51]], [[102, 0]]]], dtype=np.uint8)
    # clip 0 target pixels: 1, 1, 0, 1 -> black MSE 3/4; minus last input (1, 0): 0, 1, -1, 1 -> MSE 3/4
    # clip 1 target pixels: .2, .2, .4, 0 -> black MSE (.04 + .04 + .16) / 4 = .06;
    #        minus last input (.2, .2): 0, 0, .2, -.2 -> MSE .02
    black = np.mean([10 * np.log10(1 / 0.75), 10 * np.log10(1 / 0.06)])
    copy = np.mean([10 * np.log10(1 / 0.75), 10 * np.log10(1 / 0.02)])
    got = psnr_floors(clips, num_input=2)
    assert got["black"] == pytest.approx(black, rel=1e-6)
    assert got["copy_last"] == pytest.approx(copy, rel=1e-6)


def test_psnr_per_step_averages_each_target_frame_over_clips():
    from vjvcr.analysis import psnr_per_step

    target = np.zeros((2, 3, 1, 2, 2))
    pred = np.zeros_like(target)
    pred[0, 0] = 0.1  # clip 0, step 0: MSE 0.01 -> 20 dB; every other frame exact (capped at 100 dB)
    pred[1, 0] = 0.01  # clip 1, step 0: MSE 1e-4 -> 40 dB
    assert psnr_per_step(pred, target) == pytest.approx([30.0, PSNR_CAP_DB, PSNR_CAP_DB])


def test_per_step_psnr_leaves_out_the_clips_where_the_last_input_frame_repeated_is_exact():
    """moved_since_last_input marks, per clip and target step, whether the target frame differs from the last input
    frame; psnr_per_step with that mask averages each step over those clips only, for any prediction, so that an
    exact copy (PSNR capped at 100 dB) does not lift the floor's mean. Hand computation on 1x2-pixel frames."""
    from vjvcr.analysis import moved_since_last_input, psnr_per_step

    # three clips, 2 input + 2 target frames; last input frames: (255, 0), (0, 0), (51, 51)
    clips = np.array([[[[0, 0]], [[255, 0]], [[255, 0]], [[0, 255]]],  # step 1 equals the last input frame
                      [[[0, 0]], [[0, 0]], [[0, 255]], [[0, 0]]],      # step 2 equals it
                      [[[0, 0]], [[51, 51]], [[102, 51]], [[51, 0]]]], dtype=np.uint8)
    keep = moved_since_last_input(clips, num_input=2)
    np.testing.assert_array_equal(keep, [[False, True], [True, False], [True, True]])
    target = clips[:, 2:].astype(np.float64) / 255
    last = np.broadcast_to(clips[:, 1:2].astype(np.float64) / 255, target.shape)
    # copy-last, step 1 over clips 1 and 2: MSE (0 + 1)/2 = .5 and (.04 + 0)/2 = .02
    # step 2 over clips 0 and 2: MSE (1 + 1)/2 = 1 and (0 + .04)/2 = .02
    want = [np.mean([10 * np.log10(1 / 0.5), 10 * np.log10(1 / 0.02)]),
            np.mean([0.0, 10 * np.log10(1 / 0.02)])]
    assert psnr_per_step(last, target, keep) == pytest.approx(want, rel=1e-9)
    # without the mask the exact copies count at the cap: step 1 is (100 + 3.0103 + 16.9897) / 3 = 40 dB
    assert psnr_per_step(last, target)[0] == pytest.approx((PSNR_CAP_DB + 10 * np.log10(2) + 10 * np.log10(50)) / 3)
    # black frames over the same clips: step 1 MSE .5 (clip 1) and (.16 + .04)/2 = .1 (clip 2)
    assert psnr_per_step(np.zeros_like(target), target, keep)[0] == pytest.approx(
        np.mean([10 * np.log10(2), 10 * np.log10(10)]))
    with pytest.raises(ValueError, match="shape"):
        psnr_per_step(last, target, keep[:, :1])
    with pytest.raises(ValueError, match="no clip"):
        psnr_per_step(last, target, np.zeros_like(keep))
