"""Behaviour of read_image / write_image / write_mask on real files made in tmp_path."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin

from oldphoto_cli.errors import ImageReadError, ImageWriteError
from oldphoto_cli.io.images import Photo, read_image, write_image, write_mask

ORIENTATION = 0x0112
MAKE = 0x010F


def smooth_rgb(height: int = 64, width: int = 96) -> np.ndarray:
    """A gentle colour gradient: JPEG at q95 should reproduce it almost exactly."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack(
        [x / width * 200 + 20, y / height * 180 + 40, (x + y) / (width + height) * 150 + 60], axis=2
    )
    return np.rint(rgb).astype(np.uint8)


def noisy_rgb(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def assert_array_form(photo: Photo) -> None:
    h, w = photo.rgb.shape[:2]
    assert photo.rgb.shape == (h, w, 3)
    assert photo.rgb.dtype == np.uint8
    assert photo.rgb.flags.c_contiguous
    if photo.alpha is not None:
        assert photo.alpha.shape == (h, w)
        assert photo.alpha.dtype == np.uint8


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def written_like(photo: Photo, target: Path) -> Image.Image:
    """Write ``photo`` to ``target`` in its own form (mode, alpha, profile), then read the file back."""
    write_image(target, photo.rgb, like=photo)
    with Image.open(target) as image:
        image.load()
    return image


def test_plain_rgb_png_reads_exactly(tmp_path: Path) -> None:
    rgb = noisy_rgb()
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    photo = read_image(path)
    assert_array_form(photo)
    np.testing.assert_array_equal(photo.rgb, rgb)
    assert (photo.alpha, photo.is_grey, photo.source_format, photo.bit_depth) == (None, False, "PNG", 8)


def test_exif_orientation_is_applied_and_reset(tmp_path: Path) -> None:
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :10] = 255  # a white band on the left of the stored (sideways) pixels
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90° clockwise to display"
    exif[MAKE] = "OldCam"
    path = tmp_path / "sideways.jpg"
    Image.fromarray(rgb).save(path, exif=exif, quality=95)

    photo = read_image(path)
    assert photo.rgb.shape == (40, 20, 3)  # upright: taller than wide
    assert photo.rgb[:8].mean() > 200  # the left band is now at the top
    assert photo.rgb[-25:].mean() < 30
    written = Image.Exif()
    written.load(photo.exif)
    assert written[ORIENTATION] == 1
    assert written[MAKE] == "OldCam"


def test_exif_survives_write_with_orientation_one(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "OldCam"
    source = tmp_path / "in.jpg"
    Image.fromarray(smooth_rgb(20, 40)).save(source, exif=exif)
    photo = read_image(source)

    target = tmp_path / "out.jpg"
    out = written_like(photo, target)
    assert out.size == (20, 40)  # stored upright, not rotated a second time by viewers
    assert out.getexif()[ORIENTATION] == 1
    assert out.getexif()[MAKE] == "OldCam"
    assert read_image(target).rgb.shape == (40, 20, 3)


def test_greyscale_round_trip_stays_grey(tmp_path: Path) -> None:
    grey = noisy_rgb()[:, :, 0]
    source = tmp_path / "grey.png"
    Image.fromarray(grey).save(source)
    photo = read_image(source)
    assert photo.is_grey
    assert_array_form(photo)
    for channel in range(3):
        np.testing.assert_array_equal(photo.rgb[:, :, channel], grey)

    target = tmp_path / "grey_out.png"
    out = written_like(photo, target)
    assert out.mode == "L"
    np.testing.assert_array_equal(np.asarray(out), grey)


def test_greyscale_jpeg_writes_greyscale_jpeg(tmp_path: Path) -> None:
    source = tmp_path / "grey.jpg"
    Image.fromarray(smooth_rgb()[:, :, 1]).save(source, quality=95)
    photo = read_image(source)
    target = tmp_path / "grey_out.jpg"
    out = written_like(photo, target)
    assert (out.format, out.mode) == ("JPEG", "L")


def test_rgb_with_equal_channels_stays_colour(tmp_path: Path) -> None:
    """is_grey follows the file's mode only: a grey-looking RGB scan is still written as RGB."""
    grey = smooth_rgb()[:, :, 0]
    source = tmp_path / "looks_grey.png"
    Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2)).save(source)
    assert not read_image(source).is_grey


def test_alpha_round_trip_is_exact_in_png(tmp_path: Path) -> None:
    rgba = np.concatenate([noisy_rgb(seed=1), noisy_rgb(seed=2)[:, :, :1]], axis=2)
    source = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(source)
    photo = read_image(source)
    assert_array_form(photo)
    np.testing.assert_array_equal(photo.alpha, rgba[:, :, 3])
    np.testing.assert_array_equal(photo.rgb, rgba[:, :, :3])

    target = tmp_path / "alpha_out.png"
    out = written_like(photo, target)
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(out), rgba)


def test_grey_alpha_round_trip(tmp_path: Path) -> None:
    la = noisy_rgb(seed=3)[:, :, :2]
    source = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(source)
    photo = read_image(source)
    assert photo.is_grey
    target = tmp_path / "la_out.png"
    out = written_like(photo, target)
    assert out.mode == "LA"
    np.testing.assert_array_equal(np.asarray(out), la)


def test_alpha_is_resized_when_the_result_is_larger(tmp_path: Path) -> None:
    source = tmp_path / "small.png"
    Image.fromarray(np.full((10, 12, 4), 200, np.uint8), "RGBA").save(source)
    photo = read_image(source)
    target = tmp_path / "big.png"
    write_image(target, np.zeros((20, 24, 3), np.uint8), like=photo)
    with Image.open(target) as out:
        assert (out.mode, out.size) == ("RGBA", (24, 20))
        assert np.all(np.asarray(out)[:, :, 3] == 200)


def test_alpha_is_flattened_on_white_for_jpeg(tmp_path: Path) -> None:
    rgba = np.zeros((16, 16, 4), np.uint8)  # black, fully transparent
    source = tmp_path / "clear.png"
    Image.fromarray(rgba, "RGBA").save(source)
    photo = read_image(source)
    target = tmp_path / "clear.jpg"
    out = written_like(photo, target)
    assert out.mode == "RGB"
    assert np.asarray(out).min() > 245


def test_sixteen_bit_greyscale_reads_scaled_and_writes_sixteen_bit(tmp_path: Path) -> None:
    values = (np.arange(16 * 32, dtype=np.uint32).reshape(16, 32) * 127).astype(np.uint16)
    source = tmp_path / "deep.png"
    Image.fromarray(values).save(source)
    photo = read_image(source)
    assert (photo.is_grey, photo.bit_depth) == (True, 16)
    assert_array_form(photo)
    expected = ((values.astype(np.int64) + 128) // 257).astype(np.uint8)
    np.testing.assert_array_equal(photo.rgb[:, :, 0], expected)

    target = tmp_path / "deep_out.png"
    out = written_like(photo, target)
    assert out.mode.startswith("I")
    written = np.asarray(out).astype(np.int64)
    np.testing.assert_array_equal(written, expected.astype(np.int64) * 257)
    assert np.abs(written - values).max() <= 128  # within half an 8-bit step of the original


def test_palette_with_transparency_becomes_rgba(tmp_path: Path) -> None:
    indices = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3))
    source = tmp_path / "palette.png"
    image.save(source, transparency=1)  # index 1 (green) is transparent

    photo = read_image(source)
    assert_array_form(photo)
    assert not photo.is_grey
    np.testing.assert_array_equal(photo.alpha, np.where(indices == 1, 0, 255))
    np.testing.assert_array_equal(photo.rgb[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(photo.rgb[0, 2], [0, 0, 255])
    target = tmp_path / "palette_out.png"
    out = written_like(photo, target)
    assert out.mode == "RGBA"


def test_palette_without_transparency_has_no_alpha(tmp_path: Path) -> None:
    source = tmp_path / "palette.bmp"
    Image.fromarray(noisy_rgb()).convert("P").save(source)
    photo = read_image(source)
    assert photo.alpha is None
    assert photo.source_format == "BMP"


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    source = tmp_path / "print.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(source, quality=95)  # pure red ink mix
    photo = read_image(source)
    assert_array_form(photo)
    assert photo.source_format == "JPEG"
    assert photo.icc_profile is None
    red = photo.rgb.reshape(-1, 3).mean(axis=0)
    assert red[0] > 230 and red[1] < 25 and red[2] < 25


def test_icc_profile_is_kept(tmp_path: Path) -> None:
    icc = srgb_icc()
    source = tmp_path / "tagged.png"
    Image.fromarray(smooth_rgb()).save(source, icc_profile=icc)
    photo = read_image(source)
    assert photo.icc_profile == icc
    for name in ("out.jpg", "out.png", "out.tif", "out.webp"):
        write_image(tmp_path / name, photo.rgb, like=photo)
        with Image.open(tmp_path / name) as out:
            assert out.info.get("icc_profile") == icc, name


def test_rgb_icc_profile_is_not_attached_to_grey_output(tmp_path: Path) -> None:
    photo = Photo(np.zeros((4, 4, 3), np.uint8), None, True, "PNG", srgb_icc(), None, 8)
    target = tmp_path / "grey.png"
    out = written_like(photo, target)
    assert out.mode == "L"
    assert "icc_profile" not in out.info


@pytest.mark.parametrize(("name", "fmt"), [("x.tif", "TIFF"), ("x.bmp", "BMP"), ("x.webp", "WEBP")])
def test_output_format_follows_extension(tmp_path: Path, name: str, fmt: str) -> None:
    rgb = noisy_rgb()
    photo = Photo(rgb, None, False, "PNG", None, None, 8)
    write_image(tmp_path / name, rgb, like=photo)
    with Image.open(tmp_path / name) as out:
        assert out.format == fmt
        np.testing.assert_array_equal(np.asarray(out.convert("RGB")), rgb)  # all lossless from PNG


def test_tiff_output_is_deflate_compressed(tmp_path: Path) -> None:
    photo = Photo(smooth_rgb(), None, False, "TIFF", None, None, 8)
    write_image(tmp_path / "x.tiff", photo.rgb, like=photo)
    with Image.open(tmp_path / "x.tiff") as out:
        assert out.info["compression"] == "tiff_adobe_deflate"


def test_jpeg_output_quality_and_full_chroma(tmp_path: Path) -> None:
    rgb = smooth_rgb(128, 160)
    photo = Photo(rgb, None, False, "JPEG", None, None, 8)
    target = tmp_path / "q.jpg"
    write_image(target, rgb, like=photo)
    assert psnr(read_image(target).rgb, rgb) > 40
    with Image.open(target) as out:
        assert JpegImagePlugin.get_sampling(out) == 0  # 4:4:4


def test_webp_from_lossy_source_is_lossy_but_close(tmp_path: Path) -> None:
    rgb = smooth_rgb()
    photo = Photo(rgb, None, False, "JPEG", None, None, 8)
    write_image(tmp_path / "x.webp", rgb, like=photo)
    assert psnr(read_image(tmp_path / "x.webp").rgb, rgb) > 35


# ------------------------------------------------------------------------------------------------
# Read failures
# ------------------------------------------------------------------------------------------------


def expect_read_error(path: Path) -> ImageReadError:
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    assert caught.value.path == path
    assert str(path) in str(caught.value)
    return caught.value


def test_truncated_jpeg_is_a_read_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(noisy_rgb(64, 64)).save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert "truncated" in expect_read_error(path).reason


def test_truncated_png_is_a_read_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(noisy_rgb(64, 64)).save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert "truncated" in expect_read_error(path).reason


def test_text_file_named_jpg_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n")
    assert "not an image" in expect_read_error(path).reason


def test_missing_file_and_folder_are_read_errors(tmp_path: Path) -> None:
    assert expect_read_error(tmp_path / "absent.png").reason == "no such file"
    (tmp_path / "folder.png").mkdir()
    assert "folder" in expect_read_error(tmp_path / "folder.png").reason


def test_decompression_bomb_guard_far_over_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (20, 20)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 400 > 2×100: Pillow itself raises
    error = expect_read_error(path)
    assert error.reason == "too large for Pillow's decompression-bomb guard (400 pixels; limit 100)"


def test_decompression_bomb_guard_just_over_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (15, 10)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 150: Pillow would only warn; we refuse
    error = expect_read_error(path)
    assert error.reason == "too large for Pillow's decompression-bomb guard (150 pixels; limit 100)"


# ------------------------------------------------------------------------------------------------
# Atomic writes and write failures
# ------------------------------------------------------------------------------------------------


def failing_encoder(exception: BaseException):
    def encode(image, fp, filename) -> None:
        fp.write(b"\x89PNG half an image")
        raise exception

    return encode


def test_failed_encode_leaves_no_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(Image.SAVE, "PNG", failing_encoder(OSError("disk on fire")))
    photo = Photo(noisy_rgb(), None, False, "PNG", None, None, 8)
    target = tmp_path / "out.png"
    with pytest.raises(ImageWriteError) as caught:
        write_image(target, photo.rgb, like=photo)
    assert caught.value.path == target
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")
    monkeypatch.setitem(Image.SAVE, "PNG", failing_encoder(ValueError("encoder bug")))
    photo = Photo(noisy_rgb(), None, False, "PNG", None, None, 8)
    with pytest.raises(ImageWriteError):
        write_image(target, photo.rgb, like=photo)
    assert target.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_interrupt_mid_write_cleans_up_and_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(Image.SAVE, "PNG", failing_encoder(KeyboardInterrupt()))
    photo = Photo(noisy_rgb(), None, False, "PNG", None, None, 8)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "out.png", photo.rgb, like=photo)
    assert list(tmp_path.iterdir()) == []


def test_write_creates_missing_folders(tmp_path: Path) -> None:
    photo = Photo(noisy_rgb(), None, False, "PNG", None, None, 8)
    target = tmp_path / "a" / "b" / "out.png"
    write_image(target, photo.rgb, like=photo)
    np.testing.assert_array_equal(read_image(target).rgb, photo.rgb)
    assert [p.name for p in target.parent.iterdir()] == ["out.png"]


def test_unknown_output_extension_is_a_write_error(tmp_path: Path) -> None:
    photo = Photo(noisy_rgb(), None, False, "PNG", None, None, 8)
    with pytest.raises(ImageWriteError, match="unsupported output extension '.gif'"):
        write_image(tmp_path / "x.gif", photo.rgb, like=photo)


def test_target_that_is_a_folder_is_a_write_error(tmp_path: Path) -> None:
    (tmp_path / "x.png").mkdir()
    photo = Photo(noisy_rgb(), None, False, "PNG", None, None, 8)
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / "x.png", photo.rgb, like=photo)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)])
def test_malformed_array_is_a_value_error(tmp_path: Path, bad: np.ndarray) -> None:
    photo = Photo(noisy_rgb(), None, False, "PNG", None, None, 8)
    with pytest.raises(ValueError, match="H×W×3 uint8"):
        write_image(tmp_path / "x.png", bad, like=photo)
    assert list(tmp_path.iterdir()) == []


def test_write_mask_is_binary_png(tmp_path: Path) -> None:
    mask = np.zeros((8, 10), bool)
    mask[2:5, 3:7] = True
    write_mask(tmp_path / "m_mask.png", mask)
    write_mask(tmp_path / "u_mask.png", mask.astype(np.uint8))  # 0/1 counts as 0/255
    for name in ("m_mask.png", "u_mask.png"):
        with Image.open(tmp_path / name) as out:
            assert (out.format, out.mode) == ("PNG", "L")
            np.testing.assert_array_equal(np.asarray(out), np.where(mask, 255, 0))
