"""Training state on disk that survives a kill at any instant.

Why not Keras' BackupAndRestore (Keras 3.15, keras/src/callbacks/backup_and_restore.py): it
writes `latest.weights.h5` in place (`save_weights(overwrite=True)` opens the HDF5 file with mode
"w", which truncates the previous checkpoint first) and then `training_metadata.json`, a second
file. A kill during the weights write leaves a truncated file and no good copy; a kill between
the two files leaves new weights with the old epoch. Its `double_checkpoint=True` keeps a `.bkp`
copy, but makes it with `shutil.copy` onto the previous `.bkp`, so that copy can be half-written
too. And it keeps nothing of the other callbacks (early stopping's memory) or of the CSV log, so
a resumed run could restart epoch 1 with another training's early-stopping memory.

Here one epoch's whole state is one folder `epoch-NNNN/`: the model and optimiser weights, early
stopping's memory and best weights, and the history rows. It is written under a temporary name,
flushed to disk and renamed into place; a rename is atomic, so a folder with its final name is
complete. The previous epoch's folder is deleted only after the new one is in place, so if the
newest cannot be read the previous one is used, and if none can, the run starts over and says so.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from pathlib import Path

import keras
import numpy as np

MODEL_WEIGHTS = "model.weights.h5"  # Keras wants the .weights.h5 suffix
BEST_WEIGHTS = "best_weights.npz"
STATE = "state.json"
PREFIX = "epoch-"
TEMPORARY_PREFIX = ".epoch-"
KEEP = 2  # the newest checkpoint and the one before it, to fall back on
SPACE_MARGIN = 1.5  # free space wanted, as a multiple of the last checkpoint's size


class Checkpoints:
    """The numbered checkpoints of one run, in `folder`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def complete(self) -> list[Path]:
        """Finished checkpoint folders, newest first (the zero-padded names sort by epoch)."""
        if not self.folder.is_dir():
            return []
        return sorted((path for path in self.folder.glob(f"{PREFIX}*") if path.is_dir()), reverse=True)

    def save(self, model: keras.Model, state: dict, best_weights: list | None) -> None:
        epoch = state["epoch"]
        final = self.folder / f"{PREFIX}{epoch:04d}"
        temporary = self.folder / f"{TEMPORARY_PREFIX}{epoch:04d}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        previous = self.complete()
        self._check_space(model, previous[0] if previous else None)
        temporary.mkdir(parents=True)
        model.save_weights(temporary / MODEL_WEIGHTS)
        unchanged = previous and (previous[0] / BEST_WEIGHTS).exists() and state["best_changed"] is False
        if unchanged:
            _link_or_copy(previous[0] / BEST_WEIGHTS, temporary / BEST_WEIGHTS)
        elif best_weights is not None:
            np.savez(temporary / BEST_WEIGHTS, *best_weights)
        (temporary / STATE).write_text(json.dumps(state))
        _sync_folder(temporary, files=True)
        if final.exists():  # an unreadable checkpoint of this epoch, set aside by `restore`
            shutil.rmtree(final)
        os.rename(temporary, final)
        _sync_folder(self.folder)
        for old in self.complete()[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)

    def restore(self, model: keras.Model) -> tuple[dict, list | None] | None:
        """Load the newest readable checkpoint into `model`; its state and best weights, or None.

        An unreadable checkpoint is reported in one line and deleted, and the one before it is
        tried; when none loads, `model` is left as it was and None says: start over.
        """
        for leftover in self.folder.glob(f"{TEMPORARY_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        candidates = self.complete()
        if not candidates:
            return None
        if model.optimizer is not None and not model.optimizer.built:
            # The optimiser's variables must exist to receive the saved ones (as BackupAndRestore does).
            model.optimizer.build(model.trainable_variables)
        initial_weights = model.get_weights()
        initial_optimizer = [variable.numpy() for variable in model.optimizer.variables]
        for position, folder in enumerate(candidates):
            try:
                return self._load(model, folder)
            except (OSError, ValueError, KeyError, TypeError) as error:
                reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
                fallback = "using the one before it" if position + 1 < len(candidates) else "starting the run over"
                print(f"checkpoint {folder} is unreadable ({reason}); {fallback}", file=sys.stderr)
                model.set_weights(initial_weights)
                for variable, value in zip(model.optimizer.variables, initial_optimizer):
                    variable.assign(value)
                shutil.rmtree(folder, ignore_errors=True)
        return None

    def _load(self, model: keras.Model, folder: Path) -> tuple[dict, list | None]:
        state = json.loads((folder / STATE).read_text())
        epoch = int(state["epoch"])
        if folder.name != f"{PREFIX}{epoch:04d}" or len(state["history"]) != epoch:
            raise ValueError(f"state.json describes epoch {epoch} with {len(state['history'])} history rows")
        model.load_weights(folder / MODEL_WEIGHTS)
        best_weights = None
        if (folder / BEST_WEIGHTS).exists():
            with np.load(folder / BEST_WEIGHTS, allow_pickle=False) as archive:
                best_weights = [archive[f"arr_{index}"] for index in range(len(archive.files))]
            shapes = [weight.shape for weight in model.get_weights()]
            if [weight.shape for weight in best_weights] != shapes:
                raise ValueError(f"{BEST_WEIGHTS} does not match the model")
        return state, best_weights

    def _check_space(self, model: keras.Model, previous: Path | None) -> None:
        """Refuse before writing rather than let HDF5 fail half-way through a file on a full disk."""
        if previous is not None:
            needed = sum(path.stat().st_size for path in previous.iterdir())
        else:  # float32 weights, optimiser variables as many again, and the best weights
            needed = 3 * 4 * model.count_params()
        free = shutil.disk_usage(self.folder).free
        if free < SPACE_MARGIN * needed:
            raise OSError(
                errno.ENOSPC,
                f"No space left on device (a checkpoint needs about {needed / 2**20:.1f} MiB, "
                f"{free / 2**20:.1f} MiB free)",
                str(self.folder),
            )


class SaveEveryEpoch(keras.callbacks.Callback):
    """Writes a checkpoint at the end of every epoch; goes after EarlyStopping in the list.

    `history` holds the rows of the epochs already done (restored ones included); each epoch adds
    its row, so the checkpoint's history always has exactly as many rows as epochs.
    """

    def __init__(self, checkpoints: Checkpoints, early_stopping, history: list[dict], epochs: int):
        super().__init__()
        self.checkpoints = checkpoints
        self.early_stopping = early_stopping
        self.history = history
        self.epochs = epochs
        self.state: dict | None = None

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({"epoch": epoch, **{key: float(value) for key, value in (logs or {}).items()}})
        memory = self.early_stopping.memory()
        self.state = {
            "epoch": epoch + 1,
            # Early stopping asked to stop, or the last epoch: nothing left to train on a rerun.
            "finished": bool(self.model.stop_training) or epoch + 1 >= self.epochs,
            "early_stopping": memory,
            "best_changed": memory["best_epoch"] == epoch,
            "history": self.history,
        }
        self.checkpoints.save(self.model, self.state, self.early_stopping.best_weights)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # the same bytes, no second copy on disk
    except OSError:
        shutil.copy2(source, target)


def _sync_folder(folder: Path, files: bool = False) -> None:
    """Flush a folder (and its files) to the disk, so a power cut cannot reorder the rename."""
    if files:
        for path in folder.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
