"""Output levels and padding: the two places oldphoto departs from the published code on purpose."""

from __future__ import annotations

import numpy as np

from oldphoto_cli.pipeline.geometry import crop_to, pad_to_multiple
from oldphoto_cli.pipeline.levels import to_uint8


def test_default_levels_keep_tones_and_upstream_levels_stretch():
    dull = np.linspace(0.2, 0.7, 30, dtype=np.float32).reshape(5, 2, 3)
    plain = to_uint8(dull)
    assert plain.min() == 51 and plain.max() == 179  # 0.2·255 and 0.7·255, rounded half up
    stretched = to_uint8(dull, upstream_levels=True)
    assert stretched.min() == 0 and stretched.max() == 255


def test_rounding_is_half_up_like_torchvision():
    assert to_uint8(np.array([0.5 / 255, 1.5 / 255, 1.0], np.float32)).tolist() == [1, 2, 255]


def test_padding_reflects_and_crops_back_exactly():
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    padded = pad_to_multiple(img, 4)
    assert padded.shape == (8, 8, 3)
    assert np.array_equal(padded[5, :7], img[3])  # reflection, not edge repeat
    assert np.array_equal(crop_to(padded, 5, 7), img)
    fitting = img[:4, :4]
    assert pad_to_multiple(fitting, 4) is fitting  # nothing to do, nothing copied


def test_tiny_images_pad_without_error():
    tiny = np.full((2, 3), 9, np.uint8)
    assert pad_to_multiple(tiny, 16).shape == (16, 16)
