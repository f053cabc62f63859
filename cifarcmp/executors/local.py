"""Train the plan's runs on this machine, N at a time, each as its own `cifarcmp train` process.

One process per run: a crash or an out-of-memory kill costs that run only, no Keras state leaks
from one run into the next, and a run's GPU is chosen with CUDA_VISIBLE_DEVICES before TensorFlow
starts, which is the one reliable way to keep a TensorFlow process off the other GPUs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    """Train `runs` (jobs at a time); one run's output goes to this terminal, several runs' to log files."""
    free = slots(jobs, gpus_per_run, visible_gpus())
    to_files = len(free) > 1 and log_dir is not None  # interleaved output of several runs helps nobody
    if to_files:
        log_dir.mkdir(parents=True, exist_ok=True)
    queue = list(runs)
    running: dict[subprocess.Popen, tuple[PlannedRun, list[str] | None, Path | None]] = {}
    outcomes = []
    try:
        while queue or running:
            while queue and free:
                planned, devices = queue.pop(0), free.pop(0)
                log = log_dir / (planned.name.replace("/", "--") + ".log") if to_files else None
                running[_start(planned, devices, log)] = (planned, devices, log)
            time.sleep(POLL_SECONDS)
            for process in [process for process in running if process.poll() is not None]:
                planned, devices, log = running.pop(process)
                free.append(devices)
                state = f"exit {process.returncode}"
                outcomes.append(Outcome(planned.name, state, log))
                print(f"{'finished' if process.returncode == 0 else 'FAILED  '} {planned.name} ({state})", flush=True)
    except KeyboardInterrupt:
        # Each child stops at its own pace and keeps its last finished epoch; a rerun resumes it.
        for process in running:
            process.send_signal(signal.SIGINT)
        for process in running:
            process.wait()
        raise
    return outcomes


def _start(planned: PlannedRun, devices: list[str] | None, log: Path | None) -> subprocess.Popen:
    environment = dict(os.environ)
    if devices is not None:
        environment["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    where = f" on GPU {','.join(devices)}" if devices else ""
    print(f"starting {planned.name}{where}" + (f"; log: {log}" if log else ""), flush=True)
    command = [sys.executable, "-m", "cifarcmp.cli", "train", *planned.train_arguments()]
    if log is None:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment)
    with open(log, "a") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
