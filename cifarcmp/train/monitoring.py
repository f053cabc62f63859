"""Watching a run while it trains: Keras' TensorBoard callback, writing into the run's own folder.

The logs go to `<run>.incomplete/tensorboard/` while the run trains, so they move with it to
`<run>/tensorboard/` when it finishes, and a resumed run appends to the same folder. `make
tensorboard` serves every run under results/. They are kept out of git (.gitignore) and out of
the site (which reads only the files `cifarcmp.results` lists).

The callback writes through TensorFlow's summary API and TensorBoard's scalar plugin, so it needs
both packages (the `cpu` and `gpu` extras install them); without them the run trains unwatched and
its closing line says how to get the logs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras

LOG_FOLDER = "tensorboard"


def available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("tensorflow", "tensorboard"))


def callbacks(work: Path) -> list[keras.callbacks.Callback]:
    """The TensorBoard callback for a run whose work folder is `work`, or none without TensorBoard."""
    if not available():
        return []
    # One point per epoch: epochs keep their numbers across a resume (batch counters restart at 0,
    # so batch-level curves of a resumed run would overlap). No graph: it would add megabytes of
    # ResNet50 to every run folder for nothing the report uses.
    return [keras.callbacks.TensorBoard(log_dir=str(work / LOG_FOLDER), write_graph=False, update_freq="epoch")]


def closing_note(out: Path) -> str:
    """Where a finished run's logs are, for its closing line."""
    if available() and (out / LOG_FOLDER).is_dir():
        return f"; TensorBoard logs in {out / LOG_FOLDER} (make tensorboard)"
    return "; no TensorBoard logs (pip install tensorboard to get them)"
