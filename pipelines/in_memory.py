"""Data handed to `run(name, data=...)` in memory rather than read from files.

A pipeline that accepts such data registers a checker (`register(..., data=check)`):
`check(config, data) -> (config, InMemoryData)` validates the data against the config
before any work starts (a refused run leaves nothing on disk) and returns the config to run
with. The pipeline's train function reads the checked value from `ctx.data`; the runner
writes the copy (`file_name`) into the run folder together with the report, and points the
config field `path_field` at it, so the saved config names the exact data the run scored.

Example:
    >>> kept = InMemoryData(value=[1, 2], file_name="input.csv", content="x\\n1\\n2\\n", path_field="csv")
    >>> kept.file_name
    'input.csv'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["InMemoryData", "INPUT_FILE"]

# The name of the copy in the run folder, the same for every pipeline that takes data in memory.
INPUT_FILE = "input.csv"


@dataclass(frozen=True)
class InMemoryData:
    """Checked in-memory data and the copy of it that the run keeps.

    Attributes:
        value: What the pipeline's train function reads as `ctx.data`.
        file_name: The copy's name in the run folder; written with the report (or the
            failed report of a diverged run), never before.
        content: The copy's text (e.g. CSV) or bytes (e.g. an image classifier's `input.npz`).
        path_field: The config field set to the copy's path.
    """

    value: Any
    file_name: str
    content: str | bytes
    path_field: str
