"""What made a run: code version, package versions, device, times and data (manifest.json)."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys

import keras
import numpy as np

from cifarcmp import results
from cifarcmp.paths import PROJECT_ROOT


def manifest(dataset, counts: dict, started: float) -> dict:
    return {
        "schema_version": results.SCHEMA_VERSION,
        "status": "complete",
        "git": git_state(),
        "versions": versions(),
        "device": device(),
        "executor": executor(),
        "started_at": _iso(started),
        "finished_at": _iso(datetime.datetime.now().timestamp()),
        "data": {
            "source": dataset.source,
            "synthetic": dataset.synthetic,
            "sha256": dataset.sha256,
            "verified": dataset.verified,
            "description": dataset.description,
            "departures": list(dataset.departures),
            "class_names": list(dataset.class_names),
            "counts": counts,
        },
    }


def executor() -> dict:
    """Where the run was launched: a SLURM task (its array job, task, node, restarts) or this machine."""
    if "SLURM_JOB_ID" not in os.environ:
        return {"kind": "local"}
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return {
        "kind": "slurm",
        "job": f"{array_job}_{task}" if array_job and task else os.environ["SLURM_JOB_ID"],
        "job_id": os.environ["SLURM_JOB_ID"],
        "node": os.environ.get("SLURMD_NODENAME"),
        "partition": os.environ.get("SLURM_JOB_PARTITION"),
        "restarts": int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0),
    }


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(timespec="seconds")


def git_state() -> dict:
    """The commit the code came from and whether the work tree differed from it (results/ aside)."""

    def git(*arguments):
        return subprocess.run(
            ["git", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", ".", ":!results", ":!docs/generated"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def versions() -> dict:
    backend = keras.backend.backend()
    found = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": backend,
        "numpy": np.__version__,
        "tensorflow": None,
    }
    if backend == "tensorflow":
        import tensorflow

        found["tensorflow"] = tensorflow.__version__
    elif backend in ("jax", "torch"):
        module = __import__(backend)
        found[backend] = module.__version__
    return found


def device() -> dict:
    """The accelerator the backend trains on, or the CPU."""
    backend = keras.backend.backend()
    gpus = []
    try:
        if backend == "tensorflow":
            import tensorflow

            for gpu in tensorflow.config.list_physical_devices("GPU"):
                details = tensorflow.config.experimental.get_device_details(gpu)
                gpus.append(details.get("device_name", gpu.name))
        elif backend == "jax":
            import jax

            gpus = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
        elif backend == "torch":
            import torch

            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver should not cost the run its results
        gpus = []
    if gpus:
        return {"kind": "gpu", "name": gpus[0], "count": len(gpus)}
    return {"kind": "cpu", "name": _cpu_name(), "count": os.cpu_count()}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or sys.platform
