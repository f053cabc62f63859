"""Train the plan's runs on a SLURM cluster: one job array, one run per task.

Plain `sbatch`, `squeue` and `scontrol` through subprocess, on purpose: no new dependency, and it
works with any SLURM whose client commands are on PATH, whatever its version or site plugins (the
options a site needs go through `--sbatch-arg`). submitit would add Python-side pickling of a
function per job and its own result files; our task is already a command line
(`cifarcmp run-task PLAN`) whose results are the run directories, so that would buy nothing but
a dependency.

What a submission leaves in `results/<tag>/.slurm/`: `plan-<timestamp>.json` (the runs, in task
order; `SLURM_ARRAY_TASK_ID` picks one), `job-<timestamp>.sh` (the batch script, resubmittable
by hand), and `slurm-<job>_<task>.out` (each task's output).

Interruptions: `--requeue` lets SLURM put a pre-empted task back in the queue; near the time limit
SLURM sends USR1 to the batch script (`--signal=B:USR1@120`), which requeues its own task. Either
way the task's run gets SIGTERM, keeps its last finished epoch in `<run>.incomplete/`, and the
requeued task resumes from there (at most MAX_RESTARTS times, so a run whose epoch never fits
the limit cannot loop forever).
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cifarcmp.errors import UserError
from cifarcmp.executors import Outcome
from cifarcmp.paths import PROJECT_ROOT
from cifarcmp.plan import Plan, PlannedRun

POLL_SECONDS = float(os.environ.get("CIFARCMP_SLURM_POLL_SECONDS", "5"))
SIGNAL_SECONDS = 120  # how long before the time limit a task is told to requeue itself
MAX_RESTARTS = 3
SBATCH_TIMEOUT = 120  # sbatch retries an unreachable controller for a while; then we say so
# A task in one of these states will not run again by itself (squeue's long names).
FINAL_STATES = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
    "PREEMPTED",
}

BATCH_SCRIPT = """#!/bin/bash
# One task of a cifarcmp plan: SLURM_ARRAY_TASK_ID selects the run in {plan}.
# Near the time limit SLURM sends USR1 to this script (--signal=B:USR1@{signal}); it then requeues
# this task, which stops the run with SIGTERM (its finished epochs are kept) and starts it again
# later from there. SLURM_RESTART_COUNT counts the restarts; after {max_restarts} the task just ends.
requeue() {{
  if [ "${{SLURM_RESTART_COUNT:-0}}" -lt {max_restarts} ]; then
    echo "cifarcmp: time limit near; requeueing ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} to resume later"
    scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
  fi
}}
trap requeue USR1
cd {root}
{python} -m cifarcmp.cli run-task {plan} &
child=$!
# `wait` returns early when USR1 arrives; keep waiting for the run itself.
while true; do
  wait "$child"
  status=$?
  kill -0 "$child" 2>/dev/null || exit "$status"
done
"""


def available() -> None:
    """UserError in one line unless `sbatch` is on PATH."""
    if shutil.which("sbatch") is None:
        raise UserError("sbatch: not found on PATH; install SLURM's client commands, or use --executor local")


def submit(
    plan: Plan,
    runs: list[PlannedRun],
    jobs: int | None = None,
    partition: str | None = None,
    time_limit: str | None = None,
    gpus_per_run: int | None = None,
    sbatch_arguments: tuple[str, ...] = (),
) -> tuple[str, Path]:
    """Submit `runs` as one job array; return its job id and the folder of its files."""
    available()
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs {jobs}: need at least one task at a time")
    if gpus_per_run is not None and gpus_per_run < 1:
        raise UserError(f"--gpus-per-run {gpus_per_run}: need at least one GPU per run, or leave it out")
    folder = plan.results / ".slurm"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    plan_file = folder / f"plan-{stamp}.json"
    plan_file.write_text(json.dumps({"runs": [run.to_dict() for run in runs]}, indent=2) + "\n")
    script = folder / f"job-{stamp}.sh"
    script.write_text(
        BATCH_SCRIPT.format(
            plan=shlex.quote(str(plan_file.resolve())),
            root=shlex.quote(str(PROJECT_ROOT)),
            python=shlex.quote(sys.executable),
            signal=SIGNAL_SECONDS,
            max_restarts=MAX_RESTARTS,
        )
    )
    script.chmod(0o755)
    command = [
        "sbatch",
        "--parsable",
        f"--job-name=cifarcmp-{plan.results.name}",
        f"--array=0-{len(runs) - 1}" + (f"%{jobs}" if jobs else ""),
        f"--output={folder.resolve()}/slurm-%A_%a.out",
        f"--chdir={PROJECT_ROOT}",
        "--requeue",
        f"--signal=B:USR1@{SIGNAL_SECONDS}",
    ]
    command += [f"--partition={partition}"] if partition else []
    command += [f"--time={time_limit}"] if time_limit else []
    command += [f"--gres=gpu:{gpus_per_run}"] if gpus_per_run else []
    command += [*sbatch_arguments, str(script.resolve())]
    try:
        submitted = subprocess.run(command, capture_output=True, text=True, timeout=SBATCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UserError(f"sbatch: no answer in {SBATCH_TIMEOUT} s; is the SLURM controller up (try sinfo)?") from None
    except OSError as error:
        raise UserError(f"sbatch: cannot run it ({error.strerror})") from None
    if submitted.returncode != 0:
        raise UserError(f"sbatch refused the job array: {_one_line(submitted.stderr or submitted.stdout)}")
    job = submitted.stdout.strip().split(";")[0]
    print(f"submitted {len(runs)} run(s) as SLURM job array {job}; logs: {folder}/slurm-{job}_<task>.out", flush=True)
    return job, folder


def wait(job: str, runs: list[PlannedRun], folder: Path) -> list[Outcome]:
    """Poll squeue until every task of `job` is over; one Outcome per run, in task order."""
    states: dict[int, str] = {}
    failures = 0
    while True:
        listed = subprocess.run(
            ["squeue", "--noheader", "--array", f"--jobs={job}", "--states=all", "--format=%i|%T"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if listed.returncode != 0:
            failures += 1
            if failures >= 5:
                raise UserError(f"squeue: {_one_line(listed.stderr)} (job array {job} may still be running)")
            time.sleep(POLL_SECONDS)
            continue
        failures = 0
        current = {}
        for line in listed.stdout.split():
            task, _, state = line.partition("|")
            if "_" in task and task.rpartition("_")[2].isdigit():
                current[int(task.rpartition("_")[2])] = state
        for index, state in current.items():
            if states.get(index) != state:
                print(f"task {job}_{index} {runs[index].name}: {state}", flush=True)
        states.update(current)
        # A task the controller no longer lists has ended (it forgets finished jobs after MinJobAge).
        if all(
            states.get(index) in FINAL_STATES or (index in states and index not in current)
            for index in range(len(runs))
        ):
            break
        time.sleep(POLL_SECONDS)
    return [
        Outcome(run.name, states.get(index, "UNKNOWN"), folder / f"slurm-{job}_{index}.out")
        for index, run in enumerate(runs)
    ]


def task_run(plan_file: Path, index: int | None) -> dict:
    """The run a task trains: entry `index` (default: SLURM_ARRAY_TASK_ID) of a plan file."""
    if index is None:
        value = os.environ.get("SLURM_ARRAY_TASK_ID")
        if value is None or not value.isdigit():
            raise UserError("run-task: no --index given and SLURM_ARRAY_TASK_ID is not set")
        index = int(value)
    try:
        runs = json.loads(Path(plan_file).read_text())["runs"]
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"{plan_file}: not a readable plan file ({error})") from None
    if not 0 <= index < len(runs):
        raise UserError(f"{plan_file}: has {len(runs)} runs; no task {index}")
    return runs[index]


def _one_line(text: str) -> str:
    lines = [line.strip().removeprefix("sbatch: error: ").removeprefix("squeue: error: ") for line in text.splitlines()]
    return "; ".join(line for line in lines if line) or "no message"
