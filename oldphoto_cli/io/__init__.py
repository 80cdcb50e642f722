"""Image I/O: reading photos into arrays, writing results atomically, and planning output names.

``images`` reads and writes, ``atomic`` makes writes all-or-nothing, ``paths`` plans which source
goes to which target, ``formats`` is the shared table of extensions. The names below are the
package's public API.
"""

from oldphoto_cli.io.images import Photo, read_image, write_image, write_mask
from oldphoto_cli.io.paths import (
    SKIP_EXISTS,
    SKIP_NOT_IMAGE,
    SKIP_SYMLINKED_FOLDER,
    SKIP_UNLISTABLE_FOLDER,
    Job,
    mask_path_for,
    plan_outputs,
)

__all__ = [
    "SKIP_EXISTS",
    "SKIP_NOT_IMAGE",
    "SKIP_SYMLINKED_FOLDER",
    "SKIP_UNLISTABLE_FOLDER",
    "Job",
    "Photo",
    "mask_path_for",
    "plan_outputs",
    "read_image",
    "write_image",
    "write_mask",
]
