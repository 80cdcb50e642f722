"""``oldphoto bench``: parse options, run the cases (each in its own process), report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oldphoto_cli.cli.console import DebugFlag, err, out


def bench_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Backends, comma-separated; degrade:PRESET times `oldphoto degrade` instead.",
        ),
    ] = "bopbtl",
    runtime: Annotated[str, typer.Option(help="Runtimes, comma-separated: torch, onnx.")] = "torch",
    device: Annotated[str, typer.Option(help="Devices, comma-separated: auto, cpu, cuda.")] = "auto",
    mode: Annotated[
        str, typer.Option(help="Modes, comma-separated: quality, scratch, scratch_hr.")
    ] = "quality,scratch",
    sizes: Annotated[
        str, typer.Option(help="Image sizes, comma-separated: 1024 (square) or 688x448.")
    ] = "512,1024",
    image: Annotated[
        Path | None, typer.Option(help="A real photo to resize to each size (default: a synthetic one).")
    ] = None,
    weights: Annotated[
        Path | None, typer.Option(envvar="OLDPHOTO_WEIGHTS", help="Checkpoint folder.")
    ] = None,
    max_memory: Annotated[str | None, typer.Option(help="Cap each run's resident memory, e.g. 4G.")] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="Direct convolutions on the CPU, as `restore --exact`.")
    ] = False,
    precision: Annotated[
        str, typer.Option(help="Precisions, comma-separated: fp32, fp16, bf16 (as `restore --precision`).")
    ] = "fp32",
    batch: Annotated[
        int, typer.Option(min=1, help="Copies of each image restored together (as `restore --batch-size`).")
    ] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here.")] = None,
    versus: Annotated[
        str | None,
        typer.Option(
            help="Also time this command end to end against `oldphoto restore` on the same images; "
            "{mode}, {input} and {output} are filled in."
        ),
    ] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Repeats of each --versus comparison (best kept).")] = 1,
    timeout: Annotated[float, typer.Option(help="Seconds allowed per case.")] = 3600.0,
    workdir: Annotated[
        Path | None, typer.Option(help="Where test images and outputs go (default: a temp dir).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Megapixels per second and peak memory per backend, runtime, device, mode and size."""
    import json
    import tempfile

    from rich.console import Console

    from oldphoto_cli.bench import runner
    from oldphoto_cli.bench import versus as versus_mod
    from oldphoto_cli.bench.report import comparison_table, report_json, results_table
    from oldphoto_cli.cli.choices import comma_list, memory_cap
    from oldphoto_cli.errors import OldPhotoError
    from oldphoto_cli.evaluate.report import write_text

    DebugFlag.enabled = debug
    cap = memory_cap(max_memory)
    shapes = [runner.parse_shape(s) for s in comma_list(sizes)]
    runtimes, devices, modes = comma_list(runtime), comma_list(device), comma_list(mode)
    cases = [
        runner.Case(m, r, d, md, w, h, str(weights) if weights else None, cap, exact, p, batch)
        for m in comma_list(model)
        for r in runtimes
        for d in devices
        for p in comma_list(precision)
        for md in modes
        for w, h in shapes
        if not ((m == "classical" or m.startswith("degrade:")) and r != "torch")
    ]
    with tempfile.TemporaryDirectory(prefix="oldphoto-bench-") as tmp:
        folder = workdir or Path(tmp)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OldPhotoError(f"{folder}: cannot create the folder: {exc.strerror or exc}") from exc

        def image_for(case: runner.Case) -> Path:
            return runner.test_image(folder, case.width, case.height, image)

        def show(result: runner.CaseResult) -> None:
            c = result.case
            status = result.error or f"{result.restore_s:.1f} s"
            err.print(f"{c.model} {c.runtime} {c.device} {c.mode} {c.width}×{c.height}: {status}")

        results = runner.run_cases(cases, image_for, timeout, show)
        comparisons = []
        if versus:
            for md in modes:
                for w, h in shapes:
                    path = runner.test_image(folder, w, h, image)
                    err.print(f"end to end, {md} {w}×{h} …")
                    comparisons.append(
                        versus_mod.compare(
                            md,
                            path,
                            w * h / 1e6,
                            versus,
                            folder,
                            repeat,
                            timeout,
                            weights=str(weights) if weights else None,
                            runtime=runtimes[0],
                            device=devices[0],
                        )
                    )
    wide = Console(highlight=False, width=max(out.width, 120))  # tables too wide for 80 columns
    wide.print(results_table(results))
    if comparisons:
        wide.print(comparison_table(comparisons))
    if json_out:
        write_text(json_out, json.dumps(report_json(results, comparisons), indent=2) + "\n")
        err.print(f"wrote {json_out}")
    if any(r.error for r in results):
        raise typer.Exit(1)
