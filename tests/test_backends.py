"""The backend registry, the --model choices, and the scratch-mode memory guard."""

from __future__ import annotations

import pytest

from oldphoto_cli.backends import backend_names, create_backend
from oldphoto_cli.backends.base import BackendSettings
from oldphoto_cli.cli.choices import ModelChoice
from oldphoto_cli.errors import InsufficientMemoryError, UnknownModelError
from oldphoto_cli.pipeline.bopbtl import check_memory, detection_size, estimate_scratch_bytes


def test_cli_choices_list_every_backend():
    assert [c.value for c in ModelChoice] == backend_names()


def test_unknown_backend_names_the_choices():
    with pytest.raises(UnknownModelError, match="classical"):
        create_backend("nope", BackendSettings())


def test_memory_guard_suggests_hr_when_attention_does_not_fit():
    need = estimate_scratch_bytes(1024, 1024, "scratch")
    check_memory(1024, 1024, "scratch", available=need + 1)
    with pytest.raises(InsufficientMemoryError, match=r"1024×1024.*--hr"):
        check_memory(1024, 1024, "scratch", available=need - 1)


def test_memory_estimate_is_bounded_by_the_row_blocks():
    """Quadrupling the pixels of a large scan grows the estimate about 4×, not 16× (no full matrix)."""
    small, large = (
        estimate_scratch_bytes(2048, 2048, "scratch"),
        estimate_scratch_bytes(4096, 4096, "scratch"),
    )
    assert large < 5 * small


@pytest.mark.parametrize(
    ("size", "expected"), [((256, 400), (256, 400)), ((700, 700), (256, 256)), ((1024, 512), (512, 256))]
)
def test_detector_works_at_a_256_pixel_short_side(size, expected):
    assert detection_size(*size) == expected
