"""Train the plan's runs on this machine, N at a time, each as its own `cifarcmp train` process.

One process per run: a crash or an out-of-memory kill costs that run only, no Keras state leaks
from one run into the next, and a run's GPU is chosen with CUDA_VISIBLE_DEVICES before TensorFlow
starts, which is the one reliable way to keep a TensorFlow process off the other GPUs.

Each child dies with this process, however it ends: the kernel sends it SIGTERM when its parent
exits (prctl PR_SET_PDEATHSIG, Linux), so a run-plan killed by the OOM killer or a closed terminal
leaves no run training on unseen, to collide with the next run-plan. Every run's output goes to its
own log file under `results/<tag>/.local/<time>/`, whatever --jobs is; with one run at a time it is
shown on this terminal as well.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cifarcmp import results
from cifarcmp.errors import UserError
from cifarcmp.executors import Outcome
from cifarcmp.paths import PROJECT_ROOT
from cifarcmp.plan import PlannedRun

POLL_SECONDS = 0.5


def visible_gpus() -> list[str]:
    """The GPUs a child may be given: CUDA_VISIBLE_DEVICES when set (empty or -1: none), else nvidia-smi's list."""
    chosen = os.environ.get("CUDA_VISIBLE_DEVICES")
    if chosen is not None:
        devices = [device.strip() for device in chosen.split(",") if device.strip()]
        return [] if not devices or devices[0] == "-1" else devices
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(index) for index, line in enumerate(line for line in listing.splitlines() if line.startswith("GPU "))]


def slots(jobs: int, gpus_per_run: int | None, gpus: list[str]) -> list[list[str] | None]:
    """One entry per run that may train at once: the GPUs it owns, or None where no GPU is visible."""
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: need at least one run at a time")
    if gpus_per_run is not None and gpus_per_run < 1:
        raise UserError(f"--gpus-per-run {gpus_per_run}: need at least one GPU per run, or leave it out")
    if not gpus:
        if gpus_per_run:
            raise UserError(
                f"--gpus-per-run {gpus_per_run}: no GPU is visible here (nvidia-smi -L lists none, or CUDA_VISIBLE_DEVICES hides them)"
            )
        return [None] * jobs
    per_run = gpus_per_run or 1
    if jobs * per_run > len(gpus):
        raise UserError(
            f"--jobs {jobs} with {per_run} GPU(s) per run needs {jobs * per_run} GPUs; "
            f"{len(gpus)} visible ({','.join(gpus)}); use --jobs {max(1, len(gpus) // per_run)}"
        )
    return [gpus[index * per_run : (index + 1) * per_run] for index in range(jobs)]


def run(
    runs: list[PlannedRun], jobs: int = 1, gpus_per_run: int | None = None, log_dir: Path | None = None
) -> list[Outcome]:
    """Train `runs` (jobs at a time), each into its own log file; one run at a time is also shown here."""
    free = slots(jobs, gpus_per_run, visible_gpus())
    echo = len(free) == 1  # interleaved output of several runs helps nobody
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    queue = list(runs)
    running: dict[subprocess.Popen, tuple[PlannedRun, list[str] | None, Path | None, threading.Thread | None]] = {}
    outcomes = []
    try:
        while queue or running:
            while queue and free:
                planned, devices = queue.pop(0), free.pop(0)
                log = log_dir / (planned.name.replace("/", "--") + ".log") if log_dir is not None else None
                process, copier = _start(planned, devices, log, echo)
                running[process] = (planned, devices, log, copier)
            time.sleep(POLL_SECONDS)
            for process in [process for process in running if process.poll() is not None]:
                planned, devices, log, copier = running.pop(process)
                if copier is not None:
                    copier.join()
                free.append(devices)
                state = f"exit {process.returncode}"
                outcomes.append(Outcome(planned.name, state, log))
                print(_ending(planned, process.returncode, log), flush=True)
    except KeyboardInterrupt:
        # Each child stops at its own pace and keeps its last finished epoch; a rerun resumes it.
        for process in running:
            process.send_signal(signal.SIGINT)
        for process in running:
            process.wait()
        raise
    return outcomes


def _ending(planned: PlannedRun, returncode: int, log: Path | None) -> str:
    """One line per ended run that agrees with what is on disk, whatever the process said."""
    where = f"; log: {log}" if log else ""
    if results.is_finished(planned.out):
        if returncode == 0:
            return f"finished {planned.name}"
        return f"finished {planned.name} (by another command; this one ended with exit {returncode}{where})"
    return f"FAILED   {planned.name} (exit {returncode}{where})"


def _die_with_parent(parent: int):
    """preexec_fn: SIGTERM this child when its parent exits (PR_SET_PDEATHSIG), even by SIGKILL."""

    def arrange() -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # not Linux: no such call; the child outlives a killed parent
            return
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return arrange


def _start(
    planned: PlannedRun, devices: list[str] | None, log: Path | None, echo: bool
) -> tuple[subprocess.Popen, threading.Thread | None]:
    environment = dict(os.environ)
    if devices is not None:
        environment["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    where = f" on GPU {','.join(devices)}" if devices else ""
    print(f"starting {planned.name}{where}" + (f"; log: {log}" if log else ""), flush=True)
    command = [sys.executable, "-m", "cifarcmp.cli", "train", *planned.train_arguments()]
    options = dict(cwd=PROJECT_ROOT, env=environment, preexec_fn=_die_with_parent(os.getpid()))
    if log is None:
        return subprocess.Popen(command, **options), None
    if not echo:
        with open(log, "a") as output:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **options), None
    # One run at a time: its output to this terminal and to its log, line by line as it comes.
    # The log is opened before the child starts, so it exists as soon as the run is under way.
    output = open(log, "ab")  # noqa: SIM115 - closed by the copier thread, which outlives this call
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options)
    copier = threading.Thread(target=_copy, args=(process.stdout, output), daemon=True)
    copier.start()
    return process, copier


def _copy(stream, output) -> None:
    with output:
        for line in iter(stream.readline, b""):
            output.write(line)
            output.flush()
            sys.stdout.write(line.decode(errors="replace"))  # sys.stdout may be text-only (a notebook)
            sys.stdout.flush()
    stream.close()
