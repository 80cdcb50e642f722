"""``oldphoto restore``: parse options, plan the jobs, run them, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oldphoto_cli.cli.choices import DeviceChoice, ModelChoice, PrecisionChoice, RuntimeChoice, memory_cap
from oldphoto_cli.cli.console import DebugFlag, err, out


def restore_command(
    input: Annotated[Path, typer.Argument(help="A photo, or a folder of photos (searched recursively).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Output file or folder (default: NAME_restored beside the input)."
        ),
    ] = None,
    model: Annotated[
        ModelChoice, typer.Option("--model", "-m", help="Backend; auto = bopbtl if its weights are here.")
    ] = ModelChoice.auto,
    scratch: Annotated[
        bool, typer.Option("--scratch", help="Detect and repair scratches, dust, tears.")
    ] = False,
    hr: Annotated[
        bool, typer.Option("--hr", help="Patch-attention scratch repair for large scans (implies --scratch).")
    ] = False,
    mask: Annotated[
        Path | None,
        typer.Option(
            help="Scratch mask (white = damage) to use instead of detection; a folder for a folder."
        ),
    ] = None,
    save_mask: Annotated[
        bool, typer.Option("--save-mask", help="Write the scratch mask beside each output.")
    ] = False,
    weights: Annotated[
        Path | None,
        typer.Option(
            envvar="OLDPHOTO_WEIGHTS", help="Local folder with the checkpoints (Hub or release-zip layout)."
        ),
    ] = None,
    device: Annotated[DeviceChoice, typer.Option(help="Where the networks run.")] = DeviceChoice.auto,
    runtime: Annotated[
        RuntimeChoice,
        typer.Option(help="What runs the networks: PyTorch, or ONNX Runtime (exported on first use)."),
    ] = RuntimeChoice.torch,
    max_memory: Annotated[
        str | None,
        typer.Option(
            help="Cap on memory, e.g. 4G: larger photos are restored in tiles (default: 80 percent of free memory)."
        ),
    ] = None,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="Direct convolutions: bit-for-bit the published arithmetic (default: Winograd on CPU, "
            "within 1 level, faster).",
        ),
    ] = False,
    precision: Annotated[
        PrecisionChoice,
        typer.Option(
            help="fp16/bf16: autocast, for GPUs; faster, less exact (bf16 about 8 levels off in quality "
            "mode; in scratch modes only the decoder runs reduced). fp16 is refused on the CPU.",
        ),
    ] = PrecisionChoice.fp32,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Photos of one size restored together, at most (default: 8 on a GPU, 1 on the CPU).",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace outputs that already exist.")
    ] = False,
    upstream_levels: Annotated[
        bool,
        typer.Option("--upstream-levels", help="Min-max stretch each output like the published code saves."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Restore a photo or a folder of photos."""
    from oldphoto_cli.cli.startup import begin_start_up, start_up_done

    begin_start_up()  # until the backend is loaded: PyTorch's import is a million objects
    from oldphoto_cli.backends import BackendSettings, create_backend
    from oldphoto_cli.cli.progress import run_with_progress
    from oldphoto_cli.io.paths import plan_outputs
    from oldphoto_cli.pipeline.masks import mask_lookup

    DebugFlag.enabled = debug
    jobs = plan_outputs(input, output, overwrite=overwrite)
    settings = BackendSettings(
        scratch=scratch or hr,
        hr=hr,
        weights_dir=weights,
        device=device.value,
        upstream_levels=upstream_levels,
        given_masks=mask is not None,
        runtime=runtime.value,
        max_memory=memory_cap(max_memory),
        exact=exact,
        precision=precision.value,
        batch_size=batch_size,
    )
    backend = create_backend(model.value, settings)
    start_up_done()
    err.print(f"model: {backend.name}" + (" (scratch repair)" if settings.scratch else ""))
    if backend.runtime_label is not None:
        err.print(f"runtime: {backend.runtime_label}")
    else:
        unused = [f"--runtime {runtime.value}"] if runtime is not RuntimeChoice.torch else []
        unused += [f"--precision {precision.value}"] if precision is not PrecisionChoice.fp32 else []
        unused += [f"--batch-size {batch_size}"] if batch_size is not None else []
        if unused:
            verb = "does" if len(unused) == 1 else "do"
            err.print(f"note: {backend.name} has no networks; {', '.join(unused)} {verb} not apply")
    outcomes = run_with_progress(jobs, backend, mask_lookup(input, mask), save_mask, debug)
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)
    if not outcomes:
        out.print("no images found")
