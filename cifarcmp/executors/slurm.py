"""Train the plan's runs on a SLURM cluster: one job array, one run per task.

Plain `sbatch`, `squeue` and `scontrol` through subprocess, on purpose: no new dependency, and it
works with any SLURM whose client commands are on PATH, whatever its version or site plugins (the
options a site needs go through `--sbatch-arg`). submitit would add Python-side pickling of a
function per job and its own result files; our task is already a command line
(`cifarcmp run-task PLAN`) whose results are the run directories, so that would buy nothing but
a dependency.

What a submission leaves in `results/<tag>/.slurm/`: `plan-<timestamp>.json` (the runs, in task
order; `SLURM_ARRAY_TASK_ID` picks one), `job-<timestamp>.sh` (the batch script, resubmittable
by hand), `array-<job>.json` (which runs that array trains: a rerun finds it and waits on the array
instead of submitting the same runs again) and `slurm-<job>_<task>.out` (each task's output, every
attempt appended with a header line: `--open-mode=append`).

Interruptions: `--requeue` lets SLURM put a pre-empted task back in the queue. Near the time limit
SLURM sends USR1 to the batch script (`--signal=B:USR1@LEAD`); it passes it on to the run, which
finishes the epoch under way, writes its checkpoint and stops (cifarcmp/train/stopping.py); then
the script requeues its own task, which resumes from that epoch (at most `max_restarts` times, so
a run whose epoch never fits the limit cannot loop forever). The lead must leave room for an epoch
before it and one after it: a lead not shorter than the time limit is refused, and the default is
scaled down to a quarter of a limit shorter than twice it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
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
SIGNAL_SECONDS = 120  # how long before the time limit a task is told to stop and requeue itself
MAX_RESTARTS = 3
REQUEUE_EXIT = 75  # what the batch script sees from a run that stopped to be requeued (EX_TEMPFAIL)
# Per run, when the user's sbatch options name none: enough CPUs to feed a GPU's input pipeline and
# memory for CIFAR-10 and TensorFlow; cut to the partition's largest node (sinfo) where that is smaller.
DEFAULT_CPUS = {"paper": 8, "quick": 4, "smoke": 1}
DEFAULT_MEMORY_MB = {"paper": 32000, "quick": 16000, "smoke": 2000}
# squeue states of a task that is not over yet.
ACTIVE_STATES = {
    "PENDING",
    "RUNNING",
    "CONFIGURING",
    "COMPLETING",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SUSPENDED",
    "STOPPED",
    "SIGNALING",
    "STAGE_OUT",
    "RESV_DEL_HOLD",
}
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
# {signal} s before the time limit SLURM sends USR1 to this script (--signal=B:USR1@{signal}); it
# passes it on to the run, which stops after the epoch under way and its checkpoint (exit {requeue_exit});
# then this script requeues the task, which resumes from there later. SLURM_RESTART_COUNT counts
# the restarts; after {max_restarts} the task just ends. The output file is appended to (every
# attempt is kept), each attempt under its own header line.
echo "=== cifarcmp: task ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}, attempt $(( ${{SLURM_RESTART_COUNT:-0}} + 1 )), started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) ==="
asked=0
stop_after_epoch() {{
  asked=1
  echo "cifarcmp: time limit in {signal} s; the run stops after this epoch's checkpoint"
  kill -USR1 "$child" 2>/dev/null
}}
trap stop_after_epoch USR1
cd {root}
{python} -m cifarcmp.cli run-task {plan} &
child=$!
# `wait` returns early when USR1 arrives; keep waiting for the run itself.
while true; do
  wait "$child"
  status=$?
  kill -0 "$child" 2>/dev/null || break
done
if [ "$asked" = 1 ] && [ "$status" = {requeue_exit} ]; then
  if [ "${{SLURM_RESTART_COUNT:-0}}" -lt {max_restarts} ]; then
    echo "cifarcmp: requeueing ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} to resume after its last epoch"
    scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
    sleep 60  # the requeue ends this attempt; its exit status is not the task's
  else
    echo "cifarcmp: {max_restarts} restarts used; not requeueing (rerun run-plan, or raise --max-restarts)"
  fi
fi
exit "$status"
"""


def available() -> None:
    """UserError in one line unless `sbatch` is on PATH."""
    if shutil.which("sbatch") is None:
        raise UserError("sbatch: not found on PATH; install SLURM's client commands, or use --executor local")


def time_limit_seconds(text: str) -> int:
    """sbatch's --time formats (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS) in seconds."""
    found = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not found or text.strip() in ("", "0"):
        raise UserError(f"--time {text!r}: not a SLURM time limit; use e.g. 30 (minutes), 2:00:00 or 1-12:00:00")
    days, first, second, third = found.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        seconds = int(days) * 86400 + int(first) * 3600 + int(second or 0) * 60 + int(third or 0)
    elif third is not None:  # HH:MM:SS
        seconds = int(first) * 3600 + int(second) * 60 + int(third)
    elif second is not None:  # MM:SS
        seconds = int(first) * 60 + int(second)
    else:  # minutes
        seconds = int(first) * 60
    if seconds <= 0:
        raise UserError(f"--time {text!r}: a zero time limit leaves no time to train")
    return seconds


def fit_lead(time_limit: str | None, lead: int | None) -> tuple[int, str | None]:
    """The signal lead to use, and a line saying so when the default was scaled to fit the limit.

    A lead given by the user that is not shorter than the time limit is refused: the signal would
    come before training starts. The default (SIGNAL_SECONDS) is cut to a quarter of a limit shorter
    than twice it, so most of an attempt trains and the rest finishes the epoch under way.
    """
    if lead is not None and lead < 1:
        raise UserError(f"--signal-lead {lead}: needs at least 1 second")
    if time_limit is None:
        return (lead if lead is not None else SIGNAL_SECONDS), None
    limit = time_limit_seconds(time_limit)
    if lead is not None:
        if lead >= limit:
            raise UserError(
                f"--signal-lead {lead} s is not shorter than --time {time_limit} ({limit} s): "
                "the warning would come before any epoch; give a lead shorter than the limit"
            )
        return lead, None
    if limit >= SIGNAL_SECONDS * 2:
        return SIGNAL_SECONDS, None
    scaled = max(1, limit // 4)
    return scaled, (
        f"--time {time_limit} ({limit} s) is short for the default {SIGNAL_SECONDS} s signal lead; "
        f"each task is warned {scaled} s before its limit instead (--signal-lead to choose)"
    )


def _names_option(arguments: tuple[str, ...], *options: str) -> bool:
    """Whether the user's sbatch options set one of `options` (long `--x=`/`--x V` or short `-c N`/`-cN`)."""
    for argument in arguments:
        for option in options:
            if (
                argument == option
                or argument.startswith(option + "=")
                or (len(option) == 2 and argument.startswith(option))
            ):
                return True
    return False


def default_resources(profile: str, gpus_per_run: int | None, sbatch_arguments: tuple[str, ...]) -> list[str]:
    """--cpus-per-task and --mem for each run, unless the user's sbatch options set them."""
    cpus = DEFAULT_CPUS.get(profile, 4) * max(1, gpus_per_run or 1)
    memory = DEFAULT_MEMORY_MB.get(profile, 16000) * max(1, gpus_per_run or 1)
    node_cpus, node_memory = _largest_node(sbatch_arguments)
    chosen = []
    if not _names_option(sbatch_arguments, "--cpus-per-task", "-c", "--cpus-per-gpu"):
        chosen.append(f"--cpus-per-task={min(cpus, node_cpus) if node_cpus else cpus}")
    if not _names_option(sbatch_arguments, "--mem", "--mem-per-cpu", "--mem-per-gpu"):
        chosen.append(f"--mem={min(memory, node_memory) if node_memory else memory}M")
    return chosen


def _largest_node(sbatch_arguments: tuple[str, ...]) -> tuple[int | None, int | None]:
    """CPUs and memory (MB) of the largest node sinfo lists (None, None when it cannot say)."""
    try:
        listed = subprocess.run(
            ["sinfo", "--noheader", "--format=%c %m"], capture_output=True, text=True, timeout=30
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None, None
    cpus, memory = [], []
    for line in listed:
        parts = line.replace("+", "").split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            cpus.append(int(parts[0]))
            memory.append(int(parts[1]))
    return (max(cpus), max(memory)) if cpus else (None, None)


@dataclasses.dataclass
class Submission:
    """A job array as sbatch would get it: the script, the plan file's content and the command line."""

    folder: Path
    plan_file: Path
    plan_text: str
    script: Path
    script_text: str
    command: list[str]
    notes: list[str]


def prepare(
    plan: Plan,
    runs: list[PlannedRun],
    jobs: int | None = None,
    partition: str | None = None,
    time_limit: str | None = None,
    gpus_per_run: int | None = None,
    sbatch_arguments: tuple[str, ...] = (),
    signal_lead: int | None = None,
    max_restarts: int = MAX_RESTARTS,
    plan_arguments: tuple[str, ...] = (),
) -> Submission:
    """Everything a submission writes and runs, written nowhere yet (--dry-run prints it)."""
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs {jobs}: need at least one task at a time")
    if gpus_per_run is not None and gpus_per_run < 1:
        raise UserError(f"--gpus-per-run {gpus_per_run}: need at least one GPU per run, or leave it out")
    if max_restarts < 0:
        raise UserError(f"--max-restarts {max_restarts}: give 0 (never requeue) or more")
    lead, note = fit_lead(time_limit, signal_lead)
    folder = plan.results / ".slurm"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    plan_file = folder / f"plan-{stamp}.json"
    # plan_arguments: the `cifarcmp plan` options of this report, so the last task to finish can
    # write the studies' summaries without run-plan waiting in the foreground.
    plan_text = (
        json.dumps({"runs": [run.to_dict() for run in runs], "plan_arguments": list(plan_arguments)}, indent=2) + "\n"
    )
    script = folder / f"job-{stamp}.sh"
    script_text = BATCH_SCRIPT.format(
        plan=shlex.quote(str(plan_file.resolve())),
        root=shlex.quote(str(PROJECT_ROOT)),
        python=shlex.quote(sys.executable),
        signal=lead,
        max_restarts=max_restarts,
        requeue_exit=REQUEUE_EXIT,
    )
    command = [
        "sbatch",
        "--parsable",
        f"--job-name=cifarcmp-{plan.results.name}",
        f"--array=0-{len(runs) - 1}" + (f"%{jobs}" if jobs else ""),
        f"--output={folder.resolve()}/slurm-%A_%a.out",
        "--open-mode=append",  # a requeued attempt adds to the file instead of truncating it
        f"--chdir={PROJECT_ROOT}",
        "--requeue",
        f"--signal=B:USR1@{lead}",
    ]
    command += [f"--partition={partition}"] if partition else []
    command += [f"--time={time_limit}"] if time_limit else []
    command += [f"--gres=gpu:{gpus_per_run}"] if gpus_per_run else []
    command += default_resources(plan.settings.profile, gpus_per_run, sbatch_arguments)
    command += [*sbatch_arguments, str(script.resolve())]
    return Submission(folder, plan_file, plan_text, script, script_text, command, [note] if note else [])


def dry_run(submission: Submission) -> None:
    """Print what a submission would write and run; submit and write nothing."""
    for note in submission.notes:
        print(f"slurm: {note}")
    print(f"--- batch script ({submission.script}, not written) ---")
    print(submission.script_text, end="")
    print(f"--- plan file ({submission.plan_file}, not written) ---")
    print(submission.plan_text, end="")
    print("--- sbatch command line (not run) ---")
    print(shlex.join(submission.command))


def submit(submission: Submission, runs: list[PlannedRun]) -> tuple[str, Path]:
    """Write the submission's files, run sbatch; the job id and the folder of its files."""
    available()
    for note in submission.notes:
        print(f"slurm: {note}", flush=True)
    folder = submission.folder
    folder.mkdir(parents=True, exist_ok=True)
    submission.plan_file.write_text(submission.plan_text)
    submission.script.write_text(submission.script_text)
    submission.script.chmod(0o755)
    try:
        submitted = subprocess.run(submission.command, capture_output=True, text=True, timeout=SBATCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UserError(f"sbatch: no answer in {SBATCH_TIMEOUT} s; is the SLURM controller up (try sinfo)?") from None
    except OSError as error:
        raise UserError(f"sbatch: cannot run it ({error.strerror})") from None
    if submitted.returncode != 0:
        raise UserError(f"sbatch refused the job array: {_one_line(submitted.stderr or submitted.stdout)}")
    job = submitted.stdout.strip().split(";")[0]
    if not job.isdigit():
        # --test-only and the like answer without submitting: there is no array to wait on.
        said = _one_line(submitted.stderr or submitted.stdout)
        raise UserError(f"sbatch submitted no job ({said}); for a dry run use run-plan --dry-run")
    record = {
        "job": job,
        "plan_file": str(submission.plan_file.resolve()),
        "runs": [run.name for run in runs],
        "submitted_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (folder / f"array-{job}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"submitted {len(runs)} run(s) as SLURM job array {job}; logs: {folder}/slurm-{job}_<task>.out", flush=True)
    return job, folder


def task_states(job: str) -> dict[int, str] | None:
    """squeue's state of each task of `job` it still lists; None when squeue cannot say."""
    try:
        listed = subprocess.run(
            ["squeue", "--noheader", "--array", f"--jobs={job}", "--states=all", "--format=%i|%T"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if listed.returncode != 0:
        # A job the controller has forgotten (MinJobAge) is answered with "Invalid job id".
        return {} if "invalid job id" in listed.stderr.lower() else None
    states = {}
    for line in listed.stdout.split():
        task, _, state = line.partition("|")
        if "_" in task and task.rpartition("_")[2].isdigit():
            states[int(task.rpartition("_")[2])] = state
    return states


def active_arrays(plan: Plan) -> list[tuple[str, list[str], dict[str, str]]]:
    """Arrays submitted for this plan's folder that still have tasks to run: (job, runs in task order, run -> state)."""
    folder = plan.results / ".slurm"
    if shutil.which("squeue") is None or not folder.is_dir():
        return []
    found = []
    for record_file in sorted(folder.glob("array-*.json")):
        try:
            record = json.loads(record_file.read_text())
            job, names = str(record["job"]), list(record["runs"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        states = task_states(job)
        if not states:
            continue
        active = {
            names[index]: state for index, state in states.items() if index < len(names) and state in ACTIVE_STATES
        }
        if active:
            found.append((job, names, active))
    return found


def mark_queued(plan: Plan) -> Plan:
    """The plan with each run that a live array still holds, and that no process trains yet, marked `queued`."""
    queued = {name for _, _, active in active_arrays(plan) for name in active}
    if not queued:
        return plan
    runs = [
        dataclasses.replace(run, status="queued")
        if run.name in queued and run.status in ("missing", "interrupted")
        else run
        for run in plan.runs
    ]
    return dataclasses.replace(plan, runs=runs)


def wait(job: str, runs: list[PlannedRun], folder: Path) -> list[Outcome]:
    """Poll squeue until every task of `job` is over; one Outcome per run, in task order."""
    states: dict[int, str] = {}
    failures = unlisted = 0
    while True:
        current = task_states(job)
        if current is None:
            failures += 1
            if failures >= 5:
                raise UserError(
                    f"squeue: no answer about job array {job} (it may still be running); rerun to wait on it"
                )
            time.sleep(POLL_SECONDS)
            continue
        failures = 0
        for index, state in current.items():
            if states.get(index) != state and index < len(runs):
                print(f"task {job}_{index} {runs[index].name}: {state}", flush=True)
        states.update(current)
        # An array never seen and no longer listed (a reattach just as the controller forgot it,
        # MinJobAge) has ended; a few polls first, as a job just submitted may not be listed yet.
        unlisted = unlisted + 1 if not current and not states else 0
        # A task the controller no longer lists has ended (it forgets finished jobs after MinJobAge).
        if unlisted >= 5 or all(
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
