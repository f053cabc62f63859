"""Stop a run at the end of the epoch under way, after its checkpoint, when asked by a signal.

SLURM warns a task before its time limit (`--signal=B:USR1@LEAD`); the batch script passes the
signal on to `cifarcmp run-task`, which calls `request_on(signal.SIGUSR1)`. Killing the run there
would lose the epoch under way; instead training goes on until the epoch ends, its checkpoint is
written (SaveEveryEpoch runs before StopWhenAsked), and then it stops with `StoppedToResume`, a
KeyboardInterrupt, so the run is left interrupted exactly as after Ctrl-C and resumes from there.
"""

from __future__ import annotations

import signal
import sys

import keras

_requested: list[int] = []  # the signals received; set from a signal handler, read between epochs


class StoppedToResume(KeyboardInterrupt):
    """Raised after the checkpoint of the epoch during which a stop was asked for."""


def request_on(signum: int) -> None:
    """From now on, `signum` asks the run to stop after its current epoch (and its checkpoint)."""

    def ask(number, frame):
        _requested.append(number)
        print(
            f"cifarcmp: signal {signal.Signals(number).name}: stopping after this epoch's checkpoint", file=sys.stderr
        )

    signal.signal(signum, ask)


def requested() -> bool:
    return bool(_requested)


class StopWhenAsked(keras.callbacks.Callback):
    """Last callback: once the epoch's checkpoint is written, stop if a stop was asked for."""

    def on_epoch_end(self, epoch, logs=None):
        if _requested:
            # Keras' own epoch line comes after the callbacks, so it would never be printed: say it here.
            shown = ", ".join(f"{key} {float(value):.4f}" for key, value in sorted((logs or {}).items()))
            print(f"epoch {epoch + 1} checkpointed ({shown}); stopping to resume later", flush=True)
            raise StoppedToResume(f"stopped after epoch {epoch + 1} to resume later")
