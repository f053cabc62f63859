"""The SLURM executor against a real single-node SLURM cluster started for these tests.

The fixture starts munged (as the munge user), slurmctld and slurmd from Debian's packages
(`.ci/run` installs them) with every path in a temporary folder, waits until the node is idle,
and stops exactly the daemons it started, by their process ids. Without the packages, or
without root (slurmd must start jobs as the submitting user), the tests skip.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, assert_one_line_error

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
# One cluster on this machine: its tests run one after another, on one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stop(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running single-node cluster; yields the environment that points the client commands at it."""
    missing = [name for name in DAEMONS if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]
    if missing:
        pytest.skip(f"SLURM or munge not installed ({', '.join(missing)}); .ci/run installs them")
    if os.geteuid() != 0:
        pytest.skip("a private SLURM cluster needs root here (slurmd starts jobs as their user)")
    try:
        munge_user = pwd.getpwnam("munge")
    except KeyError:
        pytest.skip("no munge user (the munge package creates it)")
    folder = tmp_path_factory.mktemp("slurm")
    # munged refuses a socket or key in a folder others can write or the munge user cannot reach,
    # and pytest's tmp folders are private to root: the munge folder lives directly under /tmp.
    munge = Path(tempfile.mkdtemp(prefix="cifarcmp-munge-"))
    os.chown(munge, munge_user.pw_uid, munge_user.pw_gid)
    munge.chmod(0o755)  # munged wants its socket folder open to every user
    key = munge / "munge.key"
    subprocess.run(["mungekey", "-c", "-k", str(key)], check=True, capture_output=True)
    os.chown(key, munge_user.pw_uid, munge_user.pw_gid)
    key.chmod(0o600)
    started: list[Path] = []
    try:
        subprocess.run(
            [
                "runuser",
                "-u",
                "munge",
                "--",
                "munged",
                f"--socket={munge / 'munge.socket'}",
                f"--key-file={key}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={munge / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        started.append(munge / "munged.pid")
        host = socket.gethostname()
        for name in ("state", "spool"):
            (folder / name).mkdir()
        conf = folder / "slurm.conf"
        conf.write_text(
            f"""ClusterName=cifarcmp-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge / "munge.socket"}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={folder / "state"}
SlurmdSpoolDir={folder / "spool"}
SlurmctldPidFile={folder / "slurmctld.pid"}
SlurmdPidFile={folder / "slurmd.pid"}
SlurmctldLogFile={folder / "slurmctld.log"}
SlurmdLogFile={folder / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=10
SlurmdTimeout=10
MessageTimeout=5
KillWait=5
MinJobAge=600
SchedulerParameters=sched_interval=1
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
        )
        environment = {**os.environ, "SLURM_CONF": str(conf)}
        for daemon, pid_file in (("slurmctld", "slurmctld.pid"), ("slurmd", "slurmd.pid")):
            subprocess.run([daemon, "-f", str(conf)], check=True, env=environment, capture_output=True, text=True)
            started.append(folder / pid_file)
            _wait_for(lambda pid_file=pid_file: _read_pid(folder / pid_file), 30, f"{daemon}'s pid file")

        def idle():
            shown = subprocess.run(
                ["sinfo", "--noheader", "--format=%t"], env=environment, capture_output=True, text=True
            )
            return shown.stdout.strip() == "idle"

        _wait_for(idle, 60, "the node to be idle in sinfo")
        yield environment
    finally:
        # slurmd first (it may still run a task), then the controller, then munged; only ours.
        for pid_file in reversed(started):
            _stop(_read_pid(pid_file))
        shutil.rmtree(munge, ignore_errors=True)


def _cli(*arguments, env, timeout=1800) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cifarcmp.cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
        env={**env, "CIFARCMP_SLURM_POLL_SECONDS": "1"},
    )


def test_the_smoke_report_trains_as_a_slurm_job_array_and_renders(slurm_cluster, tmp_path):
    results = tmp_path / "results"
    started = time.monotonic()
    ran = _cli("run-plan", "--profile", "smoke", "--executor", "slurm", "--results-root", results, env=slurm_cluster)
    seconds = time.monotonic() - started
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "submitted 2 run(s) as SLURM job array" in ran.stdout
    print(f"smoke report through SLURM: {seconds:.0f} s")
    jobs = set()
    for model in ("resnet50", "cnn"):
        manifest = json.loads((results / "smoke" / model / "seed-0" / "manifest.json").read_text())
        executor = manifest["executor"]
        assert executor["kind"] == "slurm" and executor["node"] == socket.gethostname()
        jobs.add(executor["job"].split("_")[0])
        log = results / "smoke" / ".slurm" / f"slurm-{executor['job']}.out"
        assert "test accuracy" in log.read_text()
    assert len(jobs) == 1  # one array for both runs
    plan_files = list((results / "smoke" / ".slurm").glob("plan-*.json"))
    assert len(plan_files) == 1 and len(json.loads(plan_files[0].read_text())["runs"]) == 2

    # Everything is done now: nothing is submitted again.
    again = _cli("run-plan", "--profile", "smoke", "--executor", "slurm", "--results-root", results, env=slurm_cluster)
    assert again.returncode == 0 and "submitted" not in again.stdout and "2 done, 0 to train" in again.stdout

    rendered = _cli("render", results / "smoke", "--out", tmp_path / "generated", env=slurm_cluster)
    assert rendered.returncode == 0, rendered.stderr
    assert (tmp_path / "generated" / "comparison.md").is_file()


def test_a_failing_task_is_reported_with_its_log(slurm_cluster, tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not an archive")
    results = tmp_path / "results"
    ran = _cli(
        "run-plan",
        "--profile",
        "smoke",
        "--data",
        broken,
        "--executor",
        "slurm",
        "--results-root",
        results,
        env=slurm_cluster,
        timeout=600,
    )
    assert_one_line_error(ran, "2 of 2 runs did not finish")
    failed = [line for line in ran.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2 and all("FAILED" in line and "slurm-" in line for line in failed)
    log = Path(failed[0].rpartition("log: ")[2])
    assert str(broken) in log.read_text()


def test_options_the_cluster_rejects_come_back_in_one_line(slurm_cluster, tmp_path):
    ran = _cli(
        "run-plan",
        "--profile",
        "smoke",
        "--executor",
        "slurm",
        "--partition",
        "nowhere",
        "--results-root",
        tmp_path,
        env=slurm_cluster,
        timeout=300,
    )
    print(ran.stderr)
    assert_one_line_error(ran, "sbatch refused the job array", "partition")


def test_a_controller_that_does_not_answer_is_one_line(slurm_cluster, tmp_path):
    conf = Path(slurm_cluster["SLURM_CONF"]).read_text()
    dead = tmp_path / "slurm.conf"
    dead.write_text(
        "\n".join(
            f"SlurmctldPort={_free_port()}" if line.startswith("SlurmctldPort=") else line for line in conf.splitlines()
        )
    )
    ran = _cli(
        "run-plan",
        "--profile",
        "smoke",
        "--executor",
        "slurm",
        "--results-root",
        tmp_path / "results",
        env={**slurm_cluster, "SLURM_CONF": str(dead)},
        timeout=300,
    )
    print(ran.stderr)
    assert_one_line_error(ran, "sbatch")
