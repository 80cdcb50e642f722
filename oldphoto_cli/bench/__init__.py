"""``oldphoto bench``: speed and peak memory of every backend, runtime and size, each in its own process."""
