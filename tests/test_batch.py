"""run_batch on real files in tmp_path: values, order, failures, and that I/O overlaps compute."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oldphoto_cli.backends.base import BackendSettings, Restoration
from oldphoto_cli.backends.classical import ClassicalBackend
from oldphoto_cli.errors import ImageReadError
from oldphoto_cli.io import images
from oldphoto_cli.io.paths import SKIP_NOT_IMAGE, Job, mask_path_for, plan_outputs
from oldphoto_cli.pipeline import batch
from oldphoto_cli.pipeline.batch import DONE, FAILED, SKIPPED, BatchOptions, Outcome, run_batch

WAIT = 5.0  # seconds a test waits for the other thread before it gives up (and fails)


def noisy_rgb(seed: int, height: int = 20, width: int = 28) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def make_folder(root: Path, count: int) -> list[np.ndarray]:
    """``count`` noisy PNGs named p0.png, p1.png, ...; returns their pixels in job order."""
    root.mkdir(parents=True, exist_ok=True)
    arrays = [noisy_rgb(seed) for seed in range(count)]
    for index, rgb in enumerate(arrays):
        Image.fromarray(rgb).save(root / f"p{index}.png")
    return arrays


class Inverting:
    """A real backend: inverts colours and calls the bright red pixels damage."""

    name = "invert"
    runtime_label = None

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
        self.threads.append(threading.current_thread())
        return Restoration(255 - rgb, rgb[..., 0] >= 128)


def record_reads(monkeypatch) -> list[Path]:
    """Every path batch.py decodes, in call order (the wrapper calls the real reader)."""
    paths: list[Path] = []

    def reading(path: Path) -> images.Photo:
        paths.append(Path(path))
        return images.read_image(path)

    monkeypatch.setattr(batch, "read_image", reading)
    return paths


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


def test_folder_restores_to_the_right_pixels_in_job_order(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    arrays = make_folder(src, 5)
    (src / "readme.txt").write_text("not a photo")
    jobs = plan_outputs(src, out, overwrite=False)
    reads = record_reads(monkeypatch)
    reported: list[Outcome] = []
    backend = Inverting()

    outcomes = run_batch(jobs, backend, BatchOptions(save_mask=True), reported.append)

    assert [o.job for o in outcomes] == jobs and reported == outcomes
    assert [o.status for o in outcomes] == [DONE] * 5 + [SKIPPED]
    assert outcomes[-1].reason == SKIP_NOT_IMAGE
    assert src / "readme.txt" not in reads
    for index, rgb in enumerate(arrays):
        assert np.array_equal(pixels(out / f"p{index}.png"), 255 - rgb.astype(np.int16))
        mask = pixels(mask_path_for(out / f"p{index}.png"))[..., 0]
        assert np.array_equal(mask == 255, rgb[..., 0] >= 128)
    assert all(o.seconds > 0 for o in outcomes[:5])
    assert set(backend.threads) == {threading.current_thread()}  # restore only on the caller's thread
    assert no_temporaries(out)


def test_classical_backend_gives_what_it_gives_one_file_at_a_time(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    arrays = make_folder(src, 3)
    backend = ClassicalBackend(BackendSettings(scratch=True))
    outcomes = run_batch(plan_outputs(src, out, overwrite=False), backend, BatchOptions(save_mask=True))
    assert [o.status for o in outcomes] == [DONE] * 3
    for index, rgb in enumerate(arrays):
        expected = backend.restore(rgb)
        assert np.array_equal(pixels(out / f"p{index}.png"), expected.image.astype(np.int16))
        assert np.array_equal(pixels(mask_path_for(out / f"p{index}.png"))[..., 0] == 255, expected.mask)


def test_jpeg_and_greyscale_keep_their_kind(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(np.full((16, 24, 3), 40, np.uint8)).save(src / "a.jpg", quality=95)
    Image.fromarray(np.full((16, 24), 200, np.uint8)).save(src / "b.png")
    outcomes = run_batch(plan_outputs(src, out, overwrite=False), Inverting())
    assert [o.status for o in outcomes] == [DONE, DONE]
    assert Image.open(out / "a.jpg").format == "JPEG"
    assert np.abs(pixels(out / "a.jpg") - 215).max() <= 2
    assert Image.open(out / "b.png").mode == "L"
    assert np.array_equal(pixels(out / "b.png"), np.full((16, 24, 3), 55))


def test_a_corrupt_file_in_the_middle_fails_alone(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    arrays = make_folder(src, 5)
    (src / "p2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ImageReadError) as caught:
        images.read_image(src / "p2.png")

    reported: list[Outcome] = []
    outcomes = run_batch(plan_outputs(src, out, overwrite=False), Inverting(), on_outcome=reported.append)

    assert reported == outcomes
    assert [o.status for o in outcomes] == [DONE, DONE, FAILED, DONE, DONE]
    assert outcomes[2].reason == caught.value.reason and str(src) not in outcomes[2].reason
    assert outcomes[2].seconds == 0.0
    assert not (out / "p2.png").exists()
    for index in (0, 1, 3, 4):
        assert np.array_equal(pixels(out / f"p{index}.png"), 255 - arrays[index].astype(np.int16))


def test_an_unwritable_target_fails_alone(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    arrays = make_folder(src, 2)
    make_folder(src / "sub", 1)
    (src / "z.png").write_bytes((src / "p0.png").read_bytes())
    jobs = plan_outputs(src, out, overwrite=False)
    out.mkdir()
    (out / "sub").write_text("a file where the folder should be")

    outcomes = run_batch(jobs, Inverting())

    assert [o.job.source.relative_to(src).as_posix() for o in outcomes] == [
        "p0.png",
        "p1.png",
        "sub/p0.png",
        "z.png",
    ]
    assert [o.status for o in outcomes] == [DONE, DONE, FAILED, DONE]
    assert "internal error" not in outcomes[2].reason and "sub" in outcomes[2].reason
    assert (out / "sub").read_text() == "a file where the folder should be"
    assert np.array_equal(pixels(out / "z.png"), 255 - arrays[0].astype(np.int16))
    assert no_temporaries(out)


def test_the_next_file_is_decoded_while_this_one_is_restored(tmp_path, monkeypatch):
    """On serial code the wait times out (fails after WAIT seconds) instead of hanging."""
    src, out = tmp_path / "in", tmp_path / "out"
    make_folder(src, 3)
    jobs = plan_outputs(src, out, overwrite=False)
    decoded = {job.source: threading.Event() for job in jobs}

    def reading(path: Path) -> images.Photo:
        photo = images.read_image(path)
        decoded[Path(path)].set()
        return photo

    monkeypatch.setattr(batch, "read_image", reading)
    seen_in_time: list[bool] = []

    class WaitsForTheNextRead(Inverting):
        def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
            index = len(seen_in_time)
            following = jobs[index + 1].source if index + 1 < len(jobs) else None
            seen_in_time.append(following is None or decoded[following].wait(WAIT))
            return super().restore(rgb, mask)

    outcomes = run_batch(jobs, WaitsForTheNextRead())
    assert seen_in_time == [True, True, True]
    assert [o.status for o in outcomes] == [DONE] * 3


def test_the_previous_file_is_encoded_while_this_one_is_restored(tmp_path, monkeypatch):
    """A write that waits for the next restore to start would time out on serial code."""
    src, out = tmp_path / "in", tmp_path / "out"
    make_folder(src, 3)
    jobs = plan_outputs(src, out, overwrite=False)
    restoring = [threading.Event() for _ in jobs]
    written_in_time: list[bool] = []
    writers: set[threading.Thread] = set()

    def writing(path: Path, rgb: np.ndarray, *, like: images.Photo) -> None:
        index = [job.target for job in jobs].index(Path(path))
        writers.add(threading.current_thread())
        written_in_time.append(index + 1 == len(jobs) or restoring[index + 1].wait(WAIT))
        images.write_image(path, rgb, like=like)

    monkeypatch.setattr(batch, "write_image", writing)

    class Signals(Inverting):
        def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
            restoring[len(self.threads)].set()
            return super().restore(rgb, mask)

    outcomes = run_batch(jobs, Signals())
    assert written_in_time == [True, True, True]
    assert threading.current_thread() not in writers
    assert [o.status for o in outcomes] == [DONE] * 3
    assert all((out / f"p{index}.png").exists() for index in range(3))


class Breaks(Inverting):
    """Restores the first two photos, then raises ``error`` on the third."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
        self.calls = 0

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
        self.calls += 1
        if self.calls == 3:
            raise self.error
        return super().restore(rgb, mask)


def test_an_unexpected_error_is_recorded_and_the_batch_goes_on(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_folder(src, 4)
    outcomes = run_batch(plan_outputs(src, out, overwrite=False), Breaks(RuntimeError("boom")))
    assert [o.status for o in outcomes] == [DONE, DONE, FAILED, DONE]
    assert outcomes[2].reason == "internal error: RuntimeError: boom (rerun with --debug)"


def test_out_of_memory_is_recorded(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_folder(src, 3)
    outcomes = run_batch(plan_outputs(src, out, overwrite=False), Breaks(MemoryError()))
    assert [(o.status, o.reason) for o in outcomes][2] == (FAILED, "out of memory")


@pytest.mark.parametrize(
    ("error", "options"),
    [(RuntimeError("boom"), BatchOptions(debug=True)), (KeyboardInterrupt(), BatchOptions())],
    ids=["debug", "ctrl-c"],
)
def test_an_interrupted_batch_stops_cleanly(tmp_path, error, options):
    """The error escapes, files already restored are complete, and no worker thread is left."""
    src, out = tmp_path / "in", tmp_path / "out"
    arrays = make_folder(src, 5)
    jobs = plan_outputs(src, out, overwrite=False)
    baseline = threading.active_count()
    reported: list[Outcome] = []

    with pytest.raises(type(error)):
        run_batch(jobs, Breaks(error), options, reported.append)

    assert threading.active_count() == baseline
    assert not any(t.name.startswith("oldphoto-") for t in threading.enumerate())
    assert [o.status for o in reported] in ([], [DONE], [DONE, DONE])
    for index in range(2):  # written before or while the error struck; complete either way
        assert np.array_equal(pixels(out / f"p{index}.png"), 255 - arrays[index].astype(np.int16))
    assert not any((out / f"p{index}.png").exists() for index in range(2, 5))
    assert no_temporaries(out)


def test_an_empty_batch_and_an_all_skipped_batch(tmp_path):
    job = Job(tmp_path / "a.png", tmp_path / "b.png", "exists (use --overwrite)")
    assert run_batch([], Inverting()) == []
    assert run_batch(iter([job]), Inverting()) == [Outcome(job, SKIPPED, job.skip_reason)]


class StackingInverting(Inverting):
    """A batching backend: inverts whole groups at once, and refuses a group holding a photo
    whose first pixel is pure black (restored alone, that photo fails with its own reason)."""

    def __init__(self, batch_size: int) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.groups: list[int] = []

    def restore_batch(self, rgbs, masks) -> list[Restoration]:
        self.groups.append(len(rgbs))
        if any(_poisoned(rgb) for rgb in rgbs):
            raise ValueError("a poisoned photo in the group")
        return [super(StackingInverting, self).restore(rgb, mask) for rgb, mask in zip(rgbs, masks)]

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
        if _poisoned(rgb):
            raise ImageReadError(Path("photo"), "poisoned")
        return super().restore(rgb, mask)


def _poisoned(rgb: np.ndarray) -> bool:
    return bool((rgb[0, 0] == 0).all())


def test_a_batching_backend_gets_groups_and_skipped_files_keep_their_place(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    arrays = make_folder(src, 7)
    out.mkdir()
    Image.fromarray(arrays[3]).save(out / "p3.png")  # already there: skipped, between two groups
    jobs = plan_outputs(src, out, overwrite=False)
    backend = StackingInverting(batch_size=3)

    outcomes = run_batch(jobs, backend)

    assert backend.groups == [3, 3]
    assert [o.job.source.name for o in outcomes] == [f"p{i}.png" for i in range(7)]
    assert [o.status for o in outcomes] == [DONE] * 3 + [SKIPPED] + [DONE] * 3
    for index in (0, 1, 2, 4, 5, 6):
        assert np.array_equal(pixels(out / f"p{index}.png"), 255 - arrays[index].astype(np.int16))
    assert np.array_equal(pixels(out / "p3.png"), arrays[3])  # not overwritten


def test_an_unreadable_file_fails_alone_and_its_group_goes_on(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    arrays = make_folder(src, 4)
    (src / "p1.png").write_bytes((src / "p1.png").read_bytes()[:60])  # truncated
    backend = StackingInverting(batch_size=4)

    outcomes = run_batch(plan_outputs(src, out, overwrite=False), backend)

    assert [o.status for o in outcomes] == [DONE, FAILED, DONE, DONE]
    assert outcomes[1].reason
    assert backend.groups == [3]
    assert np.array_equal(pixels(out / "p2.png"), 255 - arrays[2].astype(np.int16))
    assert not (out / "p1.png").exists() and no_temporaries(out)


def test_a_failed_group_is_retried_photo_by_photo(tmp_path):
    """The group's error is nobody's own: each photo runs alone, and only the poisoned one fails."""
    src, out = tmp_path / "in", tmp_path / "out"
    arrays = make_folder(src, 3)
    poisoned = arrays[1].copy()
    poisoned[0, 0] = 0
    Image.fromarray(poisoned).save(src / "p1.png")
    backend = StackingInverting(batch_size=3)

    outcomes = run_batch(plan_outputs(src, out, overwrite=False), backend)

    assert backend.groups == [3]
    assert [(o.status, o.reason) for o in outcomes] == [(DONE, ""), (FAILED, "photo: poisoned"), (DONE, "")]
    assert np.array_equal(pixels(out / "p0.png"), 255 - arrays[0].astype(np.int16))
    assert np.array_equal(pixels(out / "p2.png"), 255 - arrays[2].astype(np.int16))


def test_reads_run_at_most_a_group_ahead(tmp_path, monkeypatch):
    """While group k is restored the reader may decode group k+1, never further."""
    src, out = tmp_path / "in", tmp_path / "out"
    make_folder(src, 8)
    reads = record_reads(monkeypatch)
    decoded_when_restoring: list[int] = []

    class Counts(StackingInverting):
        def restore_batch(self, rgbs, masks):
            decoded_when_restoring.append(len(reads))
            return super().restore_batch(rgbs, masks)

    outcomes = run_batch(plan_outputs(src, out, overwrite=False), Counts(batch_size=3))
    assert [o.status for o in outcomes] == [DONE] * 8
    restored_before = [0, 3, 6]
    assert all(n <= before + 2 * 3 for n, before in zip(decoded_when_restoring, restored_before))


def test_running_out_of_gpu_memory_is_recorded(tmp_path):
    import torch

    src, out = tmp_path / "in", tmp_path / "out"
    make_folder(src, 3)
    error = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    outcomes = run_batch(plan_outputs(src, out, overwrite=False), Breaks(error))
    assert [(o.status, o.reason) for o in outcomes][2] == (FAILED, "out of GPU memory")
