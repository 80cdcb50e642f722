"""The backend registry, the --model choices, the detector's working size."""

from __future__ import annotations

import pytest

from oldphoto_cli.backends import backend_names, create_backend
from oldphoto_cli.backends.base import BackendSettings
from oldphoto_cli.cli.choices import ModelChoice
from oldphoto_cli.errors import UnknownModelError
from oldphoto_cli.pipeline.bopbtl import detection_size


def test_cli_choices_list_every_backend():
    assert [c.value for c in ModelChoice] == backend_names()


def test_unknown_backend_names_the_choices():
    with pytest.raises(UnknownModelError, match="classical"):
        create_backend("nope", BackendSettings())


@pytest.mark.parametrize(
    ("size", "expected"), [((256, 400), (256, 400)), ((700, 700), (256, 256)), ((1024, 512), (512, 256))]
)
def test_detector_works_at_a_256_pixel_short_side(size, expected):
    assert detection_size(*size) == expected
