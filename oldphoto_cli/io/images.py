"""Reading photos into one uniform array form, and writing restored arrays back like the original.

The networks want one thing: an upright H×W×3 uint8 RGB array. Files come in every shape: rotated
by an EXIF tag, greyscale, 16-bit, palette-based, CMYK, with alpha. ``read_image`` normalises all
of that and remembers what it normalised away (grey, alpha, bit depth, ICC, EXIF) in a ``Photo``,
so that ``write_image`` can give the restored picture back in the same kind of file.

Every failure becomes an ``ImageReadError`` / ``ImageWriteError`` carrying the path and a short
reason, because a batch run must report one bad file and move on, never crash with a traceback.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from oldphoto_cli.errors import ImageReadError, ImageWriteError
from oldphoto_cli.io.atomic import atomic_write
from oldphoto_cli.io.formats import WRITE_FORMATS, write_format

_ORIENTATION = 0x0112
#: File modes that count as greyscale. The decision is made on the file's mode only: an RGB file
#: whose channels happen to be equal (a scan saved as colour, a sepia print) stays colour.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_FORMATS = frozenset({"PNG", "TIFF", "WEBP", "BMP"})
_ICC_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "WEBP"})
_EXIF_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
_LOSSLESS_SOURCES = frozenset({"PNG", "TIFF", "BMP", "GIF"})
# A JPEG APP1 segment holds at most 65533 bytes; Pillow refuses to save a larger EXIF block.
_JPEG_EXIF_LIMIT = 65533
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
# What Pillow's EXIF parser raises on a malformed block; EXIF is optional, so these are not fatal.
_EXIF_ERRORS = (OSError, SyntaxError, ValueError, KeyError, IndexError, TypeError, struct.error)


@dataclass(frozen=True, eq=False)
class Photo:
    """One decoded photo, upright, plus what is needed to save a result in the same kind of file.

    ``rgb`` is always H×W×3 uint8 and C-contiguous (greyscale is repeated into three equal
    channels); ``alpha`` is H×W uint8 or None; ``is_grey`` is True iff the file's mode was greyscale
    (1, L, LA, I, I;16, F); ``bit_depth`` is 16 only for 16-bit greyscale (the array is scaled to
    8 bits either way); ``icc_profile`` is the embedded profile as found (None after a CMYK
    conversion, since the pixels are then sRGB); ``exif`` is the EXIF block re-serialised with
    Orientation = 1 (the pixels are already upright) and without the stale thumbnail.
    Equality is identity (``eq=False``): comparing arrays element-wise has no single truth value.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    is_grey: bool
    source_format: str
    icc_profile: bytes | None
    exif: bytes | None
    bit_depth: int


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_image(path: Path) -> Photo:
    """Decode ``path`` fully into an upright ``Photo``; any failure is an ``ImageReadError``."""
    path = Path(path)
    try:
        return _decode(path)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, _bomb_reason(_bomb_pixels(str(exc)))) from exc
    except (OSError, SyntaxError, EOFError, ValueError, struct.error, MemoryError) as exc:
        raise ImageReadError(path, _read_reason(exc)) from exc


def _decode(path: Path) -> Photo:
    """Open, size-check, fully decode and normalise; the file is closed before returning."""
    with warnings.catch_warnings():
        # We refuse these images ourselves below (with a clearer message than a warning).
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            _check_pixels(path, img.size)
            img.load()  # decode now, so truncation surfaces here and not deep in the pipeline
            return _to_photo(img)


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    """Refuse anything above Pillow's warning threshold, not only above its 2× error threshold."""
    limit = Image.MAX_IMAGE_PIXELS
    pixels = size[0] * size[1]
    if limit is not None and pixels > limit:
        raise ImageReadError(path, _bomb_reason(pixels))


def _bomb_pixels(message: str) -> int | None:
    """Pillow raises before we see the image, so the pixel count is only in its message."""
    match = _BOMB_PIXELS.search(message)
    return int(match.group(1)) if match else None


def _bomb_reason(pixels: int | None) -> str:
    """The user-facing text for an image larger than the decompression-bomb guard allows."""
    count = f"{pixels} pixels" if pixels is not None else "too many pixels"
    return f"too large for Pillow's decompression-bomb guard ({count}; limit {Image.MAX_IMAGE_PIXELS})"


def _read_reason(exc: BaseException) -> str:
    """A short human reason for a read failure; Pillow's own text is kept where it helps."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not an image file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image, or a format Pillow cannot read"
    if isinstance(exc, MemoryError):
        return "not enough memory to decode it"
    if isinstance(exc, ValueError):
        return f"unsupported image ({exc})"
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return exc.strerror.lower()
    if "truncated" in str(exc):
        return "file is truncated (incomplete download or copy?)"
    return f"corrupt image data ({exc or type(exc).__name__})"


def _to_photo(img: Image.Image) -> Photo:
    """Turn a loaded Pillow image into a ``Photo``; metadata is captured before transposing."""
    source_format = img.format or "UNKNOWN"
    icc = img.info.get("icc_profile") or None
    exif = _exif_without_orientation(img)
    img = _upright(img)
    is_grey = img.mode in GREY_MODES
    bit_depth = 16 if img.mode in _SIXTEEN_BIT_MODES else 8
    if img.mode == "CMYK":
        img, icc = _cmyk_to_rgb(img, icc), None
    rgb, alpha = _planes(img, is_grey)
    return Photo(rgb, alpha, is_grey, source_format, icc, exif, bit_depth)


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a malformed EXIF block must not make the photo unreadable."""
    try:
        return ImageOps.exif_transpose(img)
    except _EXIF_ERRORS:
        return img


def _exif_without_orientation(img: Image.Image) -> bytes | None:
    """The file's EXIF block with Orientation set to 1, or None (also when it cannot be parsed).

    Re-serialising through Pillow keeps IFD0, the Exif and GPS sub-IFDs, and drops IFD1, i.e. the
    embedded thumbnail, which would otherwise keep showing the damaged original in file browsers.
    """
    raw = img.info.get("exif")
    if not raw:
        return None
    try:
        exif = Image.Exif()
        exif.load(raw)
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return exif.tobytes()
    except _EXIF_ERRORS:  # broken EXIF: drop it rather than fail the photo
        return None


def _cmyk_to_rgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert CMYK to sRGB through its profile when it has one, else with Pillow's plain formula."""
    managed = _cmyk_through_profile(img, icc) if icc and _icc_colour_space(icc) == b"CMYK" else None
    return managed if managed is not None else img.convert("RGB")


def _cmyk_through_profile(img: Image.Image, icc: bytes) -> Image.Image | None:
    """Colour-managed CMYK -> sRGB; None without littlecms or with a broken profile."""
    try:
        from PIL import ImageCms
    except ImportError:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(img, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def _planes(img: Image.Image, is_grey: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Split into a C-contiguous H×W×3 uint8 colour array and an optional H×W alpha array."""
    if img.mode in _SIXTEEN_BIT_MODES:
        return _grey_to_rgb(_sixteen_to_eight(np.asarray(img))), None
    alpha = None
    if img.has_transparency_data:  # alpha channel, or a palette / tRNS transparent colour
        img = img.convert("LA" if is_grey else "RGBA")
        alpha = np.ascontiguousarray(np.array(img.getchannel("A"), dtype=np.uint8))
    if is_grey:
        return _grey_to_rgb(np.array(img.convert("L"), dtype=np.uint8)), alpha
    return np.ascontiguousarray(np.array(img.convert("RGB"), dtype=np.uint8)), alpha


def _sixteen_to_eight(values: np.ndarray) -> np.ndarray:
    """Round 0..65535 to 0..255 (x/257), the exact inverse of the ×257 used when writing back."""
    wide = np.clip(values.astype(np.int64), 0, 65535)
    return ((wide + 128) // 257).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """Repeat one channel three times; the networks always take three."""
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def _icc_colour_space(profile: bytes) -> bytes:
    """The data colour space signature from the ICC header: b'RGB ', b'GRAY', b'CMYK', ..."""
    return profile[16:20]


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_image(path: Path, rgb: np.ndarray, *, like: Photo, quality: int = 95) -> None:
    """Save a restored H×W×3 uint8 array at ``path``, atomically, in the same kind as ``like``.

    The format follows ``path``'s extension. Grey in gives grey out (16-bit PNG/TIFF for a 16-bit
    source without alpha), ``like.alpha`` is carried (resized if the result's size differs; flattened
    on white for JPEG), and the ICC profile and EXIF are kept where the format can hold them.
    A malformed array is a bug and raises ``ValueError``; any failure to write is an
    ``ImageWriteError``, and then nothing exists at ``path`` that was not there before.
    """
    path = Path(path)
    _check_rgb(rgb)
    fmt = _format_or_fail(path)
    image = _compose(rgb, like, fmt)
    _save(path, image, fmt, _save_options(image, like, fmt, quality))


def write_mask(path: Path, mask: np.ndarray) -> None:
    """Save a damage mask as an 8-bit greyscale PNG of 0 and 255, atomically.

    Accepts bool or integer H×W (or H×W×1); any non-zero value counts as damage. Always PNG,
    whatever the extension, since a mask must survive without compression artefacts.
    """
    path = Path(path)
    flat = np.asarray(mask)
    if flat.ndim == 3 and flat.shape[2] == 1:
        flat = flat[:, :, 0]
    if flat.ndim != 2:
        raise ValueError(f"a mask must be H×W, got shape {flat.shape}")
    binary = np.where(flat != 0, 255, 0).astype(np.uint8)
    _save(path, Image.fromarray(binary), "PNG", {})


def _check_rgb(rgb: np.ndarray) -> None:
    """Catch a wrong array early, before anything touches the disk."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        raise ValueError(f"expected an H×W×3 uint8 array, got {getattr(rgb, 'dtype', type(rgb))} {shape}")


def _format_or_fail(path: Path) -> str:
    """The output format from the extension; an unknown one is the caller's output-name problem."""
    fmt = write_format(path)
    if fmt is None:
        known = " ".join(sorted(WRITE_FORMATS))
        raise ImageWriteError(path, f"unsupported output extension '{path.suffix}' (use one of: {known})")
    return fmt


def _compose(rgb: np.ndarray, like: Photo, fmt: str) -> Image.Image:
    """Build the Pillow image to save: grey or colour, with alpha when the format can carry it."""
    alpha = None if like.alpha is None else _fit(like.alpha, rgb.shape[:2])
    if alpha is not None and fmt not in _ALPHA_FORMATS:
        rgb, alpha = _flatten_on_white(rgb, alpha), None
    if like.is_grey:
        return _grey_image(rgb, alpha, like.bit_depth, fmt)
    image = Image.fromarray(np.ascontiguousarray(rgb))
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha))
    return image


def _grey_image(rgb: np.ndarray, alpha: np.ndarray | None, bit_depth: int, fmt: str) -> Image.Image:
    """L / LA / 16-bit grey, except where the format has no such mode (WEBP; BMP with alpha)."""
    grey = Image.fromarray(np.ascontiguousarray(rgb)).convert("L")
    if alpha is None and bit_depth == 16 and fmt in {"PNG", "TIFF"}:
        return Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257)
    if alpha is None:
        return grey.convert("RGB") if fmt == "WEBP" else grey
    if fmt in {"WEBP", "BMP"}:
        rgba = grey.convert("RGBA")
        rgba.putalpha(Image.fromarray(alpha))
        return rgba
    return Image.merge("LA", (grey, Image.fromarray(alpha)))


def _fit(alpha: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resize the source alpha to the result when the pipeline changed the size (e.g. upscaling)."""
    height, width = shape[0], shape[1]
    if alpha.shape == (height, width):
        return alpha
    resized = Image.fromarray(alpha).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def _flatten_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite on white for formats without alpha, so transparent areas do not turn black."""
    weight = alpha.astype(np.float32)[:, :, None] / 255.0
    mixed = rgb.astype(np.float32) * weight + 255.0 * (1.0 - weight)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _save_options(image: Image.Image, like: Photo, fmt: str, quality: int) -> dict[str, Any]:
    """Encoder settings per format, plus the metadata this format can hold."""
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        options.update(quality=quality, subsampling=0, optimize=True)  # 4:4:4: keep fine detail
    elif fmt == "TIFF":
        options.update(compression="tiff_deflate")
    elif fmt == "WEBP":
        if like.source_format in _LOSSLESS_SOURCES:
            options.update(lossless=True)
        else:
            options.update(quality=quality)
    icc = like.icc_profile
    if fmt in _ICC_FORMATS and icc and _icc_fits(icc, image.mode):
        options["icc_profile"] = icc
    if fmt in _EXIF_FORMATS and like.exif and not (fmt == "JPEG" and len(like.exif) > _JPEG_EXIF_LIMIT):
        options["exif"] = like.exif
    return options


def _icc_fits(profile: bytes, mode: str) -> bool:
    """A profile only describes pixels of its own colour space; a mismatch would corrupt colours."""
    space = _icc_colour_space(profile)
    return space == (b"RGB " if mode in {"RGB", "RGBA"} else b"GRAY")


def _save(path: Path, image: Image.Image, fmt: str, options: dict[str, Any]) -> None:
    """Encode into a temporary file and rename it onto ``path``; failures become ImageWriteError."""
    try:
        with atomic_write(path) as handle:
            image.save(handle, format=fmt, **options)
    except ImageWriteError:
        raise
    except Exception as exc:  # disk full, permission, encoder errors: all reported per file
        raise ImageWriteError(path, _write_reason(exc)) from exc


def _write_reason(exc: Exception) -> str:
    """A short human reason for a write failure."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"could not encode the image ({exc or type(exc).__name__})"
