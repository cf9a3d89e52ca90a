"""The MovingMNIST generator against the physics it promises."""
import numpy as np
import pytest

from vjvcr.data.moving_mnist import SWITCH_ANGLES_DEG, make_moving_mnist


@pytest.fixture(scope="module")
def det(digits):
    return make_moving_mnist(300, seed=3, size=64, num_frames=15, digits=digits)


@pytest.fixture(scope="module")
def stoch(digits):
    return make_moving_mnist(300, seed=4, size=32, num_digits=1, stochastic=True, switch_mode="relative",
                             digits=digits)


@pytest.fixture(scope="module")
def absolute(digits):
    return make_moving_mnist(300, seed=4, size=32, num_digits=1, stochastic=True, digits=digits)


def test_shapes_and_types(det):
    n, t, k = 300, 15, 2
    assert det.frames.shape == (n, t, 64, 64) and det.frames.dtype == np.uint8
    assert det.positions.shape == (n, t, k, 2)
    assert det.speeds.shape == (n, k) and det.digits.shape == (n, k)
    assert det.switch is None


def test_positions_stay_in_the_box(det, stoch):
    for mm, lim in ((det, 64 - 28), (stoch, 32 - 14)):
        assert mm.positions_exact.min() >= 0 and mm.positions_exact.max() <= lim
        assert mm.positions.min() >= 0 and mm.positions.max() <= lim
        assert np.all(mm.positions == np.rint(mm.positions_exact))


def test_speed_is_constant_and_in_range(det):
    norm = np.linalg.norm(det.velocities, axis=-1)  # [N, T, k]
    np.testing.assert_allclose(norm, det.speeds[:, None, :].repeat(15, 1), rtol=1e-9)
    assert det.speeds.min() >= 1.0 and det.speeds.max() <= 5.0
    # the range is really used (sampled, not the classic constant 3.6)
    assert det.speeds.std() > 0.8


def test_straight_motion_between_bounces_and_mirror_at_walls(det):
    lim = 64 - 28
    p, v = det.positions_exact, det.velocities
    step = p[:, :-1] + v[:, :-1]  # where the digit would go without walls
    inside = (step >= 0) & (step <= lim)  # per coordinate
    # no wall: the move equals the velocity and the velocity is unchanged
    np.testing.assert_allclose(p[:, 1:][inside], step[inside], atol=1e-9)
    np.testing.assert_allclose(v[:, 1:][inside], v[:, :-1][inside], atol=1e-12)
    # a wall: the position is the mirror image in that wall and the component flips
    low, high = step < 0, step > lim
    assert low.sum() > 50 and high.sum() > 50, "bounces should happen in 300 clips"
    np.testing.assert_allclose(p[:, 1:][low], -step[low], atol=1e-9)
    np.testing.assert_allclose(p[:, 1:][high], 2 * lim - step[high], atol=1e-9)
    np.testing.assert_allclose(v[:, 1:][low | high], -v[:, :-1][low | high], atol=1e-12)


def test_drawn_pixels_match_labels(det):
    """Each digit image sits at its recorded position; nothing is drawn elsewhere."""
    for i in range(0, 300, 37):
        for t in range(15):
            frame = det.frames[i, t]
            covered = np.zeros_like(frame, dtype=bool)
            for j in range(2):
                r, c = det.positions[i, t, j].astype(int)
                window = frame[r:r + 28, c:c + 28]
                assert np.all(window >= det.digit_images[i, j]), "max-composition lost a digit pixel"
                covered[r:r + 28, c:c + 28] = True
            assert frame[~covered].max(initial=0) == 0
            expected = np.zeros_like(frame)
            for j in range(2):
                r, c = det.positions[i, t, j].astype(int)
                np.maximum(expected[r:r + 28, c:c + 28], det.digit_images[i, j],
                           out=expected[r:r + 28, c:c + 28])
            np.testing.assert_array_equal(frame, expected)


def test_digit_classes_match_the_images(det, digits):
    np.testing.assert_array_equal(det.digits, digits.labels[det.digit_ids])
    np.testing.assert_array_equal(det.digit_images, digits.images[det.digit_ids])


def test_train_and_test_use_different_digit_images(digits):
    tr = make_moving_mnist(400, seed=0, size=32, digits=digits, split="train")
    te = make_moving_mnist(400, seed=0, size=32, digits=digits, split="test")
    assert not set(tr.digit_ids.ravel()) & set(te.digit_ids.ravel())


def test_same_seed_same_output_and_different_seed_differs(digits):
    a = make_moving_mnist(50, seed=7, size=32, digits=digits)
    b = make_moving_mnist(50, seed=7, size=32, digits=digits)
    c = make_moving_mnist(50, seed=8, size=32, digits=digits)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.speeds, b.speeds)
    assert not np.array_equal(a.frames, c.frames)


def test_an_absolute_switch_sets_one_of_five_fixed_headings(absolute):
    mm = absolute
    assert mm.meta["switch_mode"] == "absolute" and set(np.unique(mm.switch)) == set(range(5))
    v, p, lim = mm.velocities[:, :, 0], mm.positions_exact[:, :, 0], 32 - 14
    th = np.deg2rad(72.0 * mm.switch)
    heading = np.stack([np.sin(th), np.cos(th)], -1)  # (row, column): 0 degrees is to the right
    speed = mm.speeds[:, 0]
    # the velocity out of the last input frame is speed x the heading, whatever the incoming direction
    np.testing.assert_allclose(v[:, 2], speed[:, None] * heading, atol=1e-9)
    # the speed never changes; where no wall intervenes the drawn motion is that heading
    np.testing.assert_allclose(np.linalg.norm(v, axis=-1), speed[:, None] * np.ones(v.shape[1]), atol=1e-9)
    step = speed[:, None] * heading
    free = np.all((p[:, 2] + step >= 0) & (p[:, 2] + step <= lim), axis=-1)
    assert free.sum() > 150
    np.testing.assert_allclose((p[:, 3] - p[:, 2])[free], step[free], atol=1e-9)
    # the heading is readable from the target frames alone, not from the inputs
    ang = np.rad2deg(np.arctan2((p[:, 3] - p[:, 2])[:, 0], (p[:, 3] - p[:, 2])[:, 1]))
    np.testing.assert_array_equal((np.rint(ang % 360 / 72).astype(int) % 5)[free], mm.switch[free])


@pytest.mark.parametrize("kind", ["static_noise", "dynamic_noise"])
def test_distractors_lie_under_the_same_digits(digits, kind):
    plain = make_moving_mnist(40, seed=5, size=32, num_digits=1, digits=digits)
    noisy = make_moving_mnist(40, seed=5, size=32, num_digits=1, distractor=kind, digits=digits)
    np.testing.assert_array_equal(plain.positions, noisy.positions)  # same digits, trajectories and labels
    np.testing.assert_array_equal(plain.speeds, noisy.speeds)
    assert np.all(noisy.frames >= plain.frames) and np.all(noisy.frames == np.maximum(noisy.frames, plain.frames))
    background = noisy.frames.astype(int) - plain.frames.astype(int)
    empty = plain.frames == 0  # where no digit is, the frame is the noise
    assert 0 < noisy.frames[empty].max() <= 128 and noisy.frames[empty].mean() > 40
    changes = [(noisy.frames[:, t] != noisy.frames[:, 0])[empty[:, t] & empty[:, 0]].mean() for t in range(1, 15)]
    if kind == "static_noise":  # the same noise in every frame of a clip
        assert max(changes) == 0
    else:  # a new noise image every frame
        assert min(changes) > 0.9
    assert background.min() >= 0


def test_switch_happens_after_the_inputs_and_matches_the_label(stoch):
    lim, v, p = 32 - 14, stoch.velocities[:, :, 0], stoch.positions_exact[:, :, 0]  # [N, T, 2]
    assert set(np.unique(stoch.switch)) == set(range(5))
    # clips whose input frames do not touch a wall: there the rule can be read off directly
    clean = np.all(np.abs(p[:, 1] - p[:, 0] - v[:, 0]) < 1e-9, -1) & \
        np.all(np.abs(p[:, 2] - p[:, 1] - v[:, 1]) < 1e-9, -1)
    assert clean.sum() > 200
    v, p, switch = v[clean], p[clean], stoch.switch[clean]
    # the input frames move with the initial velocity
    np.testing.assert_allclose(v[:, 0], v[:, 1], atol=1e-12)
    # frame 2 -> 3 moves with that velocity turned by switch * 72 degrees
    th = np.deg2rad(np.asarray(SWITCH_ANGLES_DEG)[switch])
    r, c = v[:, 1, 0], v[:, 1, 1]
    turned = np.stack([r * np.cos(th) - c * np.sin(th), r * np.sin(th) + c * np.cos(th)], -1)
    np.testing.assert_allclose(v[:, 2], turned, atol=1e-9)
    # and the drawn motion shows it: where no wall intervenes, p3 - p2 is the turned velocity
    free = np.all((p[:, 2] + turned >= 0) & (p[:, 2] + turned <= lim), axis=-1)
    assert free.sum() > 150
    np.testing.assert_allclose((p[:, 3] - p[:, 2])[free], turned[free], atol=1e-9)
    # the switch label can be read back from the motion alone
    step_in, step_out = p[:, 2] - p[:, 1], p[:, 3] - p[:, 2]
    ang = np.rad2deg(np.arctan2(step_out[:, 1], step_out[:, 0]) - np.arctan2(step_in[:, 1], step_in[:, 0]))
    np.testing.assert_array_equal((np.rint(ang % 360 / 72).astype(int) % 5)[free], switch[free])
    # speed is unchanged by the switch
    np.testing.assert_allclose(np.linalg.norm(v[:, 2], axis=-1), np.linalg.norm(v[:, 1], axis=-1))


def test_bad_arguments_are_refused(digits):
    with pytest.raises(ValueError, match="split"):
        make_moving_mnist(2, seed=0, digits=digits, split="val")
    with pytest.raises(ValueError, match="speed range"):
        make_moving_mnist(2, seed=0, digits=digits, size=32, speed_range=(1, 40))


def test_ten_thousand_clips_in_one_vectorised_call(digits):
    """The full-size set in one call (its time is printed with -s; speed is benchmarked, not tested)."""
    import time

    t0 = time.perf_counter()
    mm = make_moving_mnist(10_000, seed=0, digits=digits)
    dt = time.perf_counter() - t0
    print(f"10,000 clips of 15x64x64: {dt:.1f} s")
    assert mm.frames.shape == (10_000, 15, 64, 64)


def test_cache_regenerates_when_parameters_change(tmp_path, digits):
    from vjvcr.data.moving_mnist import cached_moving_mnist

    a = cached_moving_mnist(tmp_path, 20, seed=0, size=32, digits=digits)
    b = cached_moving_mnist(tmp_path, 20, seed=0, size=32, digits=digits)
    c = cached_moving_mnist(tmp_path, 20, seed=1, size=32, digits=digits)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert len(list((tmp_path / "moving_mnist").glob("*.npz"))) == 2
    assert not np.array_equal(a.frames, c.frames)
    # a corrupt cache file is regenerated, not fatal
    for path in (tmp_path / "moving_mnist").glob("*.npz"):
        path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="is damaged .* regenerating it"):
        d = cached_moving_mnist(tmp_path, 20, seed=0, size=32, digits=digits)
    assert d.frames.shape == (20, 15, 32, 32)


def test_mnist_test_seq_loader(tmp_path):
    from vjvcr.data.moving_mnist import load_mnist_test_seq

    arr = np.random.default_rng(0).integers(0, 255, size=(20, 3, 64, 64), dtype=np.uint8)
    np.save(tmp_path / "mnist_test_seq.npy", arr)
    out = load_mnist_test_seq(tmp_path / "mnist_test_seq.npy")
    assert out.shape == (3, 20, 64, 64)
    np.testing.assert_array_equal(out[1, 5], arr[5, 1])
    with pytest.raises(FileNotFoundError, match="mnist_test_seq"):
        load_mnist_test_seq(tmp_path / "missing.npy")
