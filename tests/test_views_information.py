"""Gradient maps made ready to draw: blank pixels left out, a checkerboard smoothed."""

from __future__ import annotations

import numpy as np

from mmviz.views.information import checkerboard_share, gradient_maps, smooth_2x2


def test_pixels_blank_in_every_image_are_left_out():
    rng = np.random.default_rng(0)
    images = np.zeros((50, 1, 8, 8))
    images[:, :, 2:6, 2:6] = rng.random((50, 1, 4, 4))  # only the centre ever varies
    grad = rng.random((8, 8)) + 10 * np.pad(np.zeros((4, 4)), 2, constant_values=1)  # frame
    view = gradient_maps({"average": grad}, images)
    shown = view.maps["average"]
    assert view.blank_pixels == 64 - 16
    assert np.isnan(shown[0]).all() and np.isnan(shown[:, -1]).all()
    np.testing.assert_allclose(shown[2:6, 2:6], grad[2:6, 2:6])  # smooth maps are untouched
    assert not view.smoothed


def test_a_checkerboard_is_detected_and_smoothed_away():
    yy, xx = np.mgrid[:16, :16]
    board = 1.0 + ((yy + xx) % 2)  # pure alternation
    smooth = np.exp(-((yy - 8) ** 2 + (xx - 8) ** 2) / 20)  # a blob
    assert checkerboard_share(board) > 0.9
    assert checkerboard_share(smooth) < 0.05
    images = np.random.default_rng(1).random((20, 3, 16, 16))
    view = gradient_maps({"a": board + smooth}, images)
    assert view.smoothed
    assert checkerboard_share(view.maps["a"]) < 0.05
    # smoothing keeps the mean and the blob's place
    np.testing.assert_allclose(smooth_2x2(smooth).mean(), smooth.mean(), rtol=0.05)
    assert np.unravel_index(np.argmax(smooth_2x2(smooth)), (16, 16)) in {
        (7, 7),
        (8, 8),
        (7, 8),
        (8, 7),
    }
