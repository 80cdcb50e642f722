"""Scoring restorations: full-reference metrics against clean originals, no-reference scores for
real photos, timing and memory per backend, and the reports (table, JSON, CSV, comparison grid).

``metrics`` and ``noreference`` are pure functions on arrays; ``runner`` drives backends over a
dataset; ``report`` and ``grid`` turn the results into files. The CLI command is
``oldphoto_cli.cli.evaluate``.
"""
