"""The `cifarcmp` command: train, data, render, evaluate.

Bad input ends in one line on stderr and a non-zero exit, never a traceback: every check raises
UserError, and `main` turns it into that line. Heavy imports (Keras, TensorFlow) happen inside
the commands, so `--help` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cifarcmp.config import AUGMENTATIONS, MAX_UPSAMPLING, MODELS, PRECISIONS, PROFILES
from cifarcmp.errors import UserError, disk_error, path_error, terminal_line

MAX_SEED = 2**32 - 1

DATA_HELP = "cifar10 (official download, verified), synthetic (generated, learnable), or a PATH to the archive or extracted folder (python or binary layout)"

PRECISION_HELP = (
    f"{' or '.join(PRECISIONS)}: mixed computes in bfloat16 (GPUs of compute capability 8.0 and later) or float16 "
    "with float32 weights, faster on a GPU with tensor cores, and is listed as a deviation (default: float32)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cifarcmp",
        description="ResNet50 transfer learning versus a CNN trained from scratch on CIFAR-10.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train one model and write its results directory",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train one model under a profile and write a self-describing results directory. "
        "An interrupted run resumes from its last completed epoch when the same command is run again.",
    )
    train.add_argument("--model", required=True, help=f"which model: {', '.join(MODELS)}")
    train.add_argument(
        "--profile",
        default="paper",
        help="paper: the seed's exact protocol (GPU); quick: real CIFAR-10 cut down for a CPU; smoke: synthetic data, minutes",
    )
    train.add_argument(
        "--data", default=None, help=f"{DATA_HELP} (default: the profile's: cifar10, or synthetic for smoke)"
    )
    train.add_argument(
        "--weights",
        default=None,
        help="transfer models only: imagenet (Keras' verified download), none (random initialisation) or a PATH to the backbone's notop .h5 (checked by its Keras hash when named as Keras names it; default: the profile's)",
    )
    train.add_argument("--precision", default=None, help=PRECISION_HELP)
    # Strings, checked in _train, so a bad value gets our one-line error rather than argparse's usage.
    train.add_argument(
        "--seed", default="0", help=f"seeds the split, subsets, initialisation and shuffling (0 to {MAX_SEED})"
    )
    train.add_argument("--out", default=None, help="results directory (default: results/<profile>/<model>/seed-<seed>)")
    train.add_argument(
        "--force",
        action="store_true",
        help="replace a finished run; discard an interrupted run, whatever its state, and start over",
    )
    train.add_argument(
        "--arm", default=None, help="a study arm of the model: resnet50-frozen or resnet50-random (see `cifarcmp plan`)"
    )
    train.add_argument(
        "--fraction", type=float, default=None, help="train on this fraction of the training split, in (0, 1]"
    )
    # What the improvement studies change (each a RunConfig field of the same name; a deviation from
    # the seed's protocol, listed on every page the run reaches). Strings, checked in resolve_train.
    train.add_argument(
        "--augmentation",
        default=None,
        help=f"augment the training images only: {', '.join(AUGMENTATIONS)} (flip and 4 px pad-and-crop, "
        "Keras' RandAugment, Keras' MixUp with soft labels); seeded, so a rerun sees the same images (default: none)",
    )
    train.add_argument(
        "--teacher",
        default=None,
        metavar="RUN",
        help="distil from this finished run's kept model (e.g. results/paper/resnet50/seed-0) with Keras' Distiller; "
        "the run keeps the student's model alone and records the teacher's hash",
    )
    train.add_argument(
        "--distillation-temperature", default=None, help="with --teacher: softmax temperature (default 3, Keras')"
    )
    train.add_argument(
        "--distillation-alpha",
        default=None,
        help="with --teacher: weight of the labels' loss, in [0, 1); the teacher's gets the rest (default 0.5, Keras')",
    )
    train.add_argument(
        "--learning-rate", default=None, help="initial SGD learning rate, a positive number (seed: 0.01)"
    )
    train.add_argument(
        "--upsampling",
        default=None,
        help=f"transfer models: factor from 32 px, a whole number 1 to {MAX_UPSAMPLING} ({MAX_UPSAMPLING}: 224 px, the seed's)",
    )
    train.add_argument("--epochs", default=None, help="maximum number of epochs, a positive whole number")

    data = commands.add_parser(
        "data",
        help="fetch, verify and describe the data set",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data.add_argument("--data", default="cifar10", help=DATA_HELP)

    render = commands.add_parser(
        "render",
        help="render the report pages from finished results",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    render.add_argument(
        "results", type=Path, help="a results folder such as results/paper (holding <model>/seed-<N>/ runs)"
    )
    render.add_argument("--out", type=Path, default=None, help="where the pages go (default: docs/generated)")

    study = commands.add_parser(
        "study",
        help="run opt-in studies of the seed's claims (arms, data efficiency, Grad-CAM) on this machine",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train the runs a study needs (finished ones are kept) and write its summary.json "
        "under results/studies-<profile>/. `cifarcmp run-plan --studies ...` does the same through an executor.",
    )
    _plan_arguments(study, studies_required=True)

    plan = commands.add_parser(
        "plan",
        help="list the runs a report needs, their folders and whether each is done, interrupted or missing",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _plan_arguments(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")

    run_plan = commands.add_parser(
        "run-plan",
        help="train the plan's missing and interrupted runs (locally or on SLURM), then write the studies' summaries",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Finished runs are never trained again; interrupted ones resume from their last epoch. "
        "Exits non-zero if any run failed, naming its log.",
    )
    _plan_arguments(run_plan)
    run_plan.add_argument("--executor", default="local", help="local (this machine) or slurm (one job array)")
    run_plan.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs at a time (local: default 1, one GPU each where GPUs are visible; slurm: no limit)",
    )
    run_plan.add_argument("--gpus-per-run", type=int, default=None, help="GPUs each run gets (slurm: --gres=gpu:N)")
    run_plan.add_argument("--partition", default=None, help="slurm: the partition")
    run_plan.add_argument("--time", default=None, help="slurm: each task's time limit, e.g. 2:00:00")
    run_plan.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        metavar="OPTION",
        help="slurm: one more sbatch option, e.g. --sbatch-arg=--mem=16G or --sbatch-arg --mem=16G",
    )
    run_plan.add_argument(
        "--sbatch-args",
        default="",
        metavar="STRING",
        help="slurm: more sbatch options in one string, split as a shell would "
        "(e.g. '--mem=32G --comment=\"two words\"'); added after any --sbatch-arg",
    )
    run_plan.add_argument(
        "--signal-lead",
        type=int,
        default=None,
        help="slurm: seconds before the time limit a task is told to stop after its epoch and requeue "
        "(default 120, or a quarter of a --time shorter than 240 s)",
    )
    run_plan.add_argument(
        "--max-restarts", type=int, default=3, help="slurm: how many times a task requeues itself near its limit"
    )
    run_plan.add_argument(
        "--dry-run",
        action="store_true",
        help="slurm: print the batch script, the plan file and the sbatch command line; submit nothing",
    )

    task = commands.add_parser(
        "run-task",
        help="train one run of a plan file (what each SLURM array task runs)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    task.add_argument("plan_file", type=Path, help="a plan file written by `cifarcmp run-plan --executor slurm`")
    task.add_argument("--index", type=int, default=None, help="which run (default: $SLURM_ARRAY_TASK_ID)")

    evaluate = commands.add_parser(
        "evaluate",
        help="(re)compute the evaluation of finished runs, without retraining",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    evaluate.add_argument("results", type=Path, help="a run directory, or a folder of runs")
    evaluate.add_argument(
        "--predict",
        action="store_true",
        help="also predict the test set again from each run's kept model (its data must be at hand) "
        "and say how far the new predictions are from the stored ones",
    )
    evaluate.add_argument(
        "--flip",
        action="store_true",
        help="with --predict: also predict the test images mirrored left to right (test-time augmentation); "
        "compared with the stored ones, or added to predictions.npz of a run trained before runs stored them",
    )
    return parser


def _joined_option_values(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """`--sbatch-arg --mem=1G` as `--sbatch-arg=--mem=1G`: argparse takes a value starting with `--` for an option."""
    joined, index = [], 0
    while index < len(argv):
        if argv[index] in options and index + 1 < len(argv):
            joined.append(f"{argv[index]}={argv[index + 1]}")
            index += 2
        else:
            joined.append(argv[index])
            index += 1
    return joined


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    arguments = _parser().parse_args(_joined_option_values(argv, ("--sbatch-arg", "--sbatch-args")))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides our output
    try:
        commands = {
            "train": _train,
            "data": _data,
            "render": _render,
            "evaluate": _evaluate,
            "study": _study,
            "plan": _plan,
            "run-plan": _run_plan,
            "run-task": _run_task,
        }
        return commands[arguments.command](arguments)
    except UserError as error:
        print(f"cifarcmp: error: {terminal_line(error)}", file=sys.stderr)
        return 1
    except (OSError, RuntimeError) as error:
        # A full or read-only disk, a path too long or looping: one line; anything else is a bug.
        translated = (disk_error(error) if isinstance(error, OSError) else None) or path_error(error)
        if translated is None:
            raise
        print(f"cifarcmp: error: {terminal_line(translated)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "cifarcmp: interrupted; run the same command again to resume from the last completed epoch", file=sys.stderr
        )
        return 130


def resolve_train(arguments):
    """The RunConfig `cifarcmp train ARGUMENTS` trains (the plan's runs round-trip through it)."""
    from cifarcmp import config

    if arguments.profile not in PROFILES:
        raise UserError(f"unknown profile {arguments.profile!r}; choose one of: {', '.join(PROFILES)}")
    overrides = dict(
        data=_data_source(arguments.data),
        seed=_seed(arguments.seed),
        weights=_weights(arguments.weights, arguments.model),
        train_fraction=arguments.fraction,
        precision=arguments.precision,
        augmentation=arguments.augmentation,
        teacher=_teacher(arguments.teacher),
        distillation_temperature=_number("--distillation-temperature", arguments.distillation_temperature),
        distillation_alpha=_number("--distillation-alpha", arguments.distillation_alpha),
        learning_rate=_number("--learning-rate", arguments.learning_rate),
        upsampling=_number("--upsampling", arguments.upsampling, int, "a whole number"),
        epochs=_number("--epochs", arguments.epochs, int, "a whole number"),
    )
    if arguments.arm is None:
        return config.resolve(arguments.model, arguments.profile, **overrides)
    if config.ARMS.get(arguments.arm, (None,))[0] != arguments.model:
        arms = [arm for arm, (model, _) in config.ARMS.items() if model == arguments.model and arm != model]
        raise UserError(
            f"--arm {arguments.arm!r} is not an arm of {arguments.model}; choose from: {', '.join(arms) or 'none'}"
        )
    return config.resolve_arm(arguments.arm, arguments.profile, **overrides)


def _train(arguments) -> int:
    from cifarcmp import config

    resolved = resolve_train(arguments)
    if arguments.out is not None and not arguments.out.strip():
        raise UserError("--out '': names no results folder; give a folder such as results/mine/cnn/seed-0")
    out = Path(arguments.out).expanduser().absolute() if arguments.out is not None else config.default_run_dir(resolved)
    if resolved.teacher:
        from cifarcmp.train import teacher  # no Keras: the folder, its manifest and its model's hash

        if Path(resolved.teacher).resolve() == out.resolve():
            raise UserError(
                f"--teacher {arguments.teacher}: is this run's own folder; give a finished run to learn from"
            )
        teacher.check(resolved.teacher)
    from cifarcmp import results

    # Every check that needs no Keras, before Keras is imported (train repeats them under the lock).
    results.check_destination(out, arguments.force)
    results.interrupted_run(results.incomplete_path(out), json.loads(json.dumps(resolved.to_dict())), arguments.force)
    from cifarcmp.train.run import train  # imports Keras: after the arguments are known to be good

    train(resolved, out, force=arguments.force)
    return 0


def _plan_arguments(parser: argparse.ArgumentParser, studies_required: bool = False) -> None:
    """The settings a plan is derived from (the Make variables of the same names)."""
    parser.add_argument("--profile", default="paper", help="paper, quick or smoke (as for train)")
    parser.add_argument("--seed", type=int, default=0, help="the seed when --seeds is 1")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per run: 0..N-1 (1: just --seed)")
    parser.add_argument(
        "--studies",
        required=studies_required,
        default=None,
        help="comma-separated: arms, data-efficiency, gradcam, augmentation, backbones, resolution, ensembles, "
        "distillation, learning-rate",
    )
    parser.add_argument(
        "--learning-rates",
        default=None,
        help="learning-rate study: initial SGD rates, comma-separated positive numbers (default 0.001,0.003,0.01,0.03,0.1; "
        "smoke 0.01,0.1)",
    )
    parser.add_argument(
        "--backbones",
        default=None,
        help="backbones study: comma-separated (default every one: resnet50v2, efficientnetv2b0, mobilenetv3large, "
        "convnexttiny, densenet121; smoke mobilenetv3large)",
    )
    parser.add_argument(
        "--fractions", default="0.01,0.1,1", help="data-efficiency: fractions of the training split, each in (0, 1]"
    )
    parser.add_argument("--data", default=None, help=DATA_HELP)
    parser.add_argument("--weights", default=None, help="as for train (the random-initialisation arm always uses none)")
    parser.add_argument("--precision", default=None, help=PRECISION_HELP)
    parser.add_argument(
        "--results-root",
        type=Path,
        default=None,
        help="the folder holding <profile>/ and studies-<profile>/ (default: results/)",
    )


def _build_plan(arguments):
    from cifarcmp import plan

    settings = plan.PlanSettings(
        profile=arguments.profile,
        seeds=arguments.seeds,
        seed=arguments.seed,
        studies=plan.parse_studies(arguments.studies) if arguments.studies else (),
        fractions=plan.parse_fractions(arguments.fractions),
        data=_data_source(arguments.data),
        weights=_weights(arguments.weights),
        precision=arguments.precision,
        **({"results_root": arguments.results_root.resolve()} if arguments.results_root else {}),
        **_study_settings(arguments),
    )
    built = plan.build(settings)
    plan.check(built)
    return built


def _study_settings(arguments) -> dict:
    """The plan settings of the studies' own options (given only when asked for)."""
    from cifarcmp.studies import backbones, learning_rate

    settings = {}
    if getattr(arguments, "learning_rates", None):
        settings["learning_rates"] = learning_rate.parse_rates(arguments.learning_rates)
    if getattr(arguments, "backbones", None):
        settings["backbones"] = backbones.parse_backbones(arguments.backbones)
    return settings


def _study(arguments) -> int:
    # The studies' runs are runs of the plan like any other: the local executor trains them, one
    # at a time, and run-plan writes the summaries. (`study` is run-plan with --studies required.)
    defaults = vars(_parser().parse_args(["run-plan"]))
    return _run_plan(argparse.Namespace(**{**defaults, **vars(arguments), "command": "run-plan"}))


def _plan(arguments) -> int:
    import json

    from cifarcmp import estimate

    built = _with_queued(_build_plan(arguments))
    counts = built.counts()
    rates = estimate.machine_rates(built.settings.results_root, built.settings.precision or "float32")
    if arguments.json:
        document = {
            "results": str(built.results),
            "counts": counts,
            "runs": [run.to_dict() for run in built.runs],
            "copies": [run.to_dict() for run in built.copies],
            "estimate": [vars(cost) for cost in estimate.plan_costs(built, rates)],
            "rates": vars(rates),
        }
        print(json.dumps(document, indent=2))
        return 0
    width = max(len(run.name) for run in [*built.runs, *built.copies])
    for run in built.runs:
        after = f"  (after its teacher {_shown(Path(run.config.teacher))})" if run.status == "waiting" else ""
        print(f"{run.status:<12} {run.name:<{width}}  {_shown(run.out)}{after}")
    for run in built.copies:
        state = "copied" if run.status == "done" else "copy"
        print(f"{state:<12} {run.name:<{width}}  same configuration as {run.same_as}: trained once, copied here")
    print(estimate.describe(built, rates))
    print(_count_line(built))
    return 0


def _count_line(built) -> str:
    """ "30 runs: 30 missing (36 results folders; 6 are copies of a run with the same configuration)"."""
    counts = built.counts()
    shown = [f"{count} {status}" for status, count in counts.items() if count or status in ("done", "missing")]
    folders = len(built.runs) + len(built.copies)
    shared = (
        f" ({folders} results folders; {len(built.copies)} are copies of a run with the same configuration)"
        if built.copies
        else ""
    )
    return f"{len(built.runs)} runs: {', '.join(shown)}{shared}"


def _with_queued(built):
    """The plan, with runs a SLURM array submitted for them still holds marked `queued` (squeue is asked)."""
    from cifarcmp.executors import slurm

    return slurm.mark_queued(built)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _run_plan(arguments) -> int:
    import datetime

    from cifarcmp.executors import EXECUTORS

    if arguments.executor not in EXECUTORS:
        raise UserError(f"unknown executor {arguments.executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if arguments.jobs is not None and arguments.jobs < 1:
        raise UserError(f"--jobs {arguments.jobs}: need at least one run at a time")
    if arguments.dry_run and arguments.executor != "slurm":
        raise UserError("--dry-run shows a SLURM submission; add --executor slurm (`cifarcmp plan` lists the runs)")
    sbatch_arguments = (*arguments.sbatch_arg, *_split_sbatch_args(arguments.sbatch_args))
    built = _current_plan(arguments)
    todo = built.with_status("missing", "interrupted")
    elsewhere = built.with_status("running", "queued")
    waiting = built.with_status("waiting")
    print(
        f"{len(built.runs)} runs planned: {len(built.with_status('done'))} done, {len(todo)} to train"
        + (f", {len(elsewhere)} training or queued elsewhere" if elsewhere else "")
        + (f", {len(waiting)} waiting for their teacher run (trained once it is done)" if waiting else "")
        + (
            f" (and {len(built.copies)} study folders that copy a run of the same configuration)"
            if built.copies
            else ""
        ),
        flush=True,
    )
    if arguments.executor == "local":
        for run in elsewhere:
            print(f"not started: {run.name} is being trained by another process (its lock is held)", flush=True)
    # In rounds: the runs that can train now; then those that waited for a teacher trained meanwhile,
    # until no waiting run has become trainable. A run is tried once per command.
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    outcomes, waited = [], {run.name for run in waiting}
    while True:
        if arguments.executor == "local":
            from cifarcmp.executors import local

            if todo:
                log_dir = built.results / ".local" / stamp
                outcomes += local.run(todo, arguments.jobs or 1, arguments.gpus_per_run, log_dir)
        else:
            submitted = _run_on_slurm(arguments, built, todo, sbatch_arguments)
            if submitted is None:  # --dry-run: the first round only
                if waiting:
                    print(f"(then {len(waiting)} run(s) waiting for their teacher, as an array of their own)")
                return 0
            outcomes += submitted
        if not waited:
            break
        built = _current_plan(arguments)
        waited |= {run.name for run in built.with_status("waiting")}
        todo = [run for run in built.with_status("missing", "interrupted") if run.name in waited]
        if not todo:
            break
        waited -= {run.name for run in todo}
        print(f"{len(todo)} run(s) whose teacher has finished: training them now", flush=True)
    # Whether a run finished is read from disk, whatever its process or task said.
    after = _build_plan(arguments)
    unfinished = [run for run in after.runs if run.status != "done"]
    logs = {outcome.name: outcome for outcome in outcomes}
    for run in unfinished:
        outcome = logs.get(run.name)
        print(_why_unfinished(run, outcome), file=sys.stderr)
    if unfinished:
        raise UserError(f"{len(unfinished)} of {len(after.runs)} runs did not finish; {_advice(unfinished, logs)}")
    if after.settings.studies:
        from cifarcmp.studies import summaries  # reads results only: no Keras

        summaries.write_summaries(after)
    print(f"all {len(after.runs)} runs done; results in {after.results}")
    return 0


def _current_plan(arguments):
    """The plan as it stands now (on SLURM, with the runs a live array holds marked queued)."""
    built = _build_plan(arguments)
    if arguments.executor == "slurm":
        from cifarcmp.executors import slurm

        built = slurm.mark_queued(built)
    return built


def _split_sbatch_args(text: str) -> list[str]:
    import shlex

    try:
        return shlex.split(text)
    except ValueError as error:
        raise UserError(f"--sbatch-args {text!r}: {error} (quote it as a shell would)") from None


def _plan_argv(arguments) -> list[str]:
    """The `cifarcmp plan` options that rebuild this plan (for the SLURM tasks)."""
    argv = ["--profile", arguments.profile, "--seed", str(arguments.seed), "--seeds", str(arguments.seeds)]
    argv += ["--fractions", arguments.fractions]
    for option in ("studies", "data", "weights", "precision", "learning_rates", "backbones"):
        value = getattr(arguments, option, None)
        if value is not None:
            argv += [f"--{option.replace('_', '-')}", str(_weights(value) if option == "weights" else value)]
    root = arguments.results_root.resolve() if arguments.results_root else None
    return argv + (["--results-root", str(root)] if root else [])


def _run_on_slurm(arguments, built, todo, sbatch_arguments):
    """Reattach to arrays already training these runs, submit the rest; the outcomes (None for --dry-run)."""
    from cifarcmp.executors import slurm

    options = dict(
        jobs=arguments.jobs,
        partition=arguments.partition,
        time_limit=arguments.time,
        gpus_per_run=arguments.gpus_per_run,
        sbatch_arguments=sbatch_arguments,
        signal_lead=arguments.signal_lead,
        max_restarts=arguments.max_restarts,
        plan_arguments=tuple(_plan_argv(arguments)),
    )
    if arguments.dry_run:
        slurm.dry_run(slurm.prepare(built, todo or built.runs, **options))
        return None
    by_name = {run.name: run for run in built.runs}
    waits = []
    arrays = slurm.active_arrays(built)
    for job, names, active in arrays:
        print(
            f"job array {job} is already training {len(active)} of these runs ({', '.join(sorted(set(active.values())))}); "
            "waiting on it instead of submitting them again",
            flush=True,
        )
        waits.append((job, [by_name.get(name) or _named(name) for name in names]))
    covered = {name for _, names, _ in arrays for name in names}
    rest = [run for run in todo if run.name not in covered]
    if rest:
        job, _ = slurm.submit(slurm.prepare(built, rest, **options), rest)
        waits.append((job, rest))
    outcomes = []
    for job, runs in waits:
        outcomes += slurm.wait(job, runs, built.results / ".slurm")
    return outcomes


def _named(name: str):
    """A stand-in for a run an array trains that this plan no longer lists (only its name is read)."""
    from types import SimpleNamespace

    return SimpleNamespace(name=name)


def _why_unfinished(run, outcome) -> str:
    """One line per unfinished run: what happened, its last word, and its log (last, to copy)."""
    if run.status == "running":
        return f"NOT FINISHED {run.name}: another process is still training it (it holds {run.out}.lock)"
    if run.status == "queued":
        return f"NOT FINISHED {run.name}: still queued on SLURM"
    if run.status == "waiting":
        return f"NOT STARTED {run.name}: its teacher {run.config.teacher} has not finished"
    what = "interrupted after some epochs" if run.status == "interrupted" else "never started training"
    last = _last_line(outcome.log) if outcome and outcome.log else None
    where = f"log: {outcome.log}" if outcome and outcome.log else "its output is above"
    return (
        f"FAILED {run.name} ({outcome.state if outcome else 'not run'}): {what}{f': {last}' if last else ''}; {where}"
    )


def _last_line(log: Path) -> str | None:
    """The last line a run's log printed that says something (its error, usually)."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    errors = [line for line in lines if line.startswith(("cifarcmp: error:", "ModuleNotFoundError", "Traceback"))]
    return (errors or lines or [None])[-1]


def _advice(unfinished, logs) -> str:
    """What to do next, for the causes at hand (resuming helps only runs that were interrupted)."""
    statuses = {run.status for run in unfinished}
    parts = []
    if "interrupted" in statuses:
        parts.append("rerun the same command to resume the interrupted ones from their last epoch")
    if "missing" in statuses:
        parts.append("the ones that never started failed before training: fix what their logs say, then rerun")
    if "waiting" in statuses:
        parts.append("the waiting ones train once their teacher run has finished: see why it did not, then rerun")
    if statuses & {"running", "queued"}:
        parts.append("the others are still training elsewhere: rerun when they are done, and it waits for nothing")
    return "; ".join(parts)


def _run_task(arguments) -> int:
    import signal

    from cifarcmp import results
    from cifarcmp.executors import slurm
    from cifarcmp.train import stopping

    entry = slurm.task_run(arguments.plan_file, arguments.index)
    if results.is_finished(Path(entry["out"])):  # a requeued task whose run already finished
        print(f"{entry['name']}: already finished in {entry['out']}")
        return _summaries_if_all_done(arguments.plan_file)

    def stop(signum, frame):  # SLURM ends a task (time limit, pre-emption, cancel) with SIGTERM
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # The batch script passes on SLURM's warning before the time limit: stop after this epoch.
    stopping.request_on(signal.SIGUSR1)
    print(f"{entry['name']}: cifarcmp train {' '.join(entry['arguments'])}", flush=True)
    status = main(["train", *entry["arguments"]])
    if stopping.requested() and not results.is_finished(Path(entry["out"])):
        return slurm.REQUEUE_EXIT
    return status or _summaries_if_all_done(arguments.plan_file)


def _summaries_if_all_done(plan_file: Path) -> int:
    """The task that finds every run of its plan finished writes the studies' summaries (no one has to wait for them)."""
    try:
        plan_arguments = json.loads(Path(plan_file).read_text()).get("plan_arguments") or []
    except (OSError, ValueError, AttributeError):
        return 0
    if "--studies" not in plan_arguments:
        return 0
    from cifarcmp import lock

    rebuilt = _build_plan(_parser().parse_args(["plan", *plan_arguments]))
    if any(run.status != "done" for run in rebuilt.runs):
        return 0
    from cifarcmp.studies import summaries

    try:
        with lock.hold(rebuilt.studies_root.with_name(f".{rebuilt.studies_root.name}.summaries.lock"), "summaries"):
            summaries.write_summaries(rebuilt)
    except UserError:  # another task that finished last at the same moment is writing them
        pass
    return 0


def _number(option: str, value: str | None, kind=float, what: str = "a number"):
    """A number given on the command line, as `kind` (its range is config.resolve's to check)."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise UserError(f"{option} {value!r}: not {what}") from None


def _teacher(value: str | None) -> str | None:
    """--teacher as an absolute folder, so the run's config.json names it wherever it is resumed from."""
    if value is None:
        return None
    if not value.strip():
        raise UserError(
            "--teacher '': names no run; give a finished run's folder such as results/paper/resnet50/seed-0"
        )
    return str(Path(value).expanduser().absolute())


def _seed(value: str) -> int:
    try:
        seed = int(value)
    except ValueError:
        raise UserError(f"--seed {value!r}: not a whole number; give one from 0 to {MAX_SEED}") from None
    if not 0 <= seed <= MAX_SEED:
        raise UserError(f"--seed {seed}: out of range; give one from 0 to {MAX_SEED} (what NumPy's seeding takes)")
    return seed


def _weights(value: str | None, model: str | None = None) -> str | None:
    """--weights checked before Keras is loaded: an HDF5 file, and if it is named as a backbone's
    Keras ImageNet file, one with the hash Keras checks that file by. `model`: the model it is for
    (train), or None (a plan, whose transfer runs all take it). Whether its layers fit is Keras'
    loader's to say (train/models.py)."""
    from cifarcmp import architectures

    if value is None or value in ("imagenet", "none"):
        return value
    entry = architectures.get(model) if model is not None else None
    entry = entry if entry is not None and entry.transfer else None  # the scratch CNN takes no weights file
    wanted = f"{entry.short_label} notop" if entry is not None else "a backbone's notop"
    path = Path(value).expanduser()
    if not path.is_file():
        example = entry.weights_file if entry is not None else "a backbone's notop .h5"
        raise UserError(f"--weights {value}: no such file; use imagenet, none or a path to {example}")
    import h5py  # Keras' own HDF5 reader, without Keras: a wrong file is refused in a moment, not in 40 s

    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as error:
        raise UserError(f"--weights {value}: unreadable ({error.strerror})") from None
    if not is_hdf5:
        raise UserError(f"--weights {value}: not {wanted} weights that fit this model (not an HDF5 file)")
    architectures.check_weights_file(path, entry)
    return str(path.resolve())


def _data_source(value: str | None) -> str | None:
    """--data as given, once it names something (a Make variable reaches here whole, spaces and all)."""
    if value is not None:
        from cifarcmp.data.source import check_source

        check_source(value)
    return value


def _flipped(run, again: dict) -> None:
    """Compare the mirrored images' predictions with the stored ones, or store them where there are none."""
    from cifarcmp import results
    from cifarcmp.analysis import evaluation

    if results.FLIPPED in run.predictions:
        stored = {**run.predictions, "probabilities": run.predictions[results.FLIPPED]}
        made = {**again, "probabilities": again[results.FLIPPED]}
        print(f"{run.path}: mirrored images: {evaluation.prediction_agreement(stored, made)}")
    elif _same_images(run.predictions, again):
        results.add_flipped_predictions(run, again[results.FLIPPED])
        print(f"{run.path}: mirrored test images predicted and added to predictions.npz ({results.FLIPPED})")
    else:
        raise UserError(f"{run.path}: predicted again on other test images than it stored; nothing added")


def _same_images(stored: dict, again: dict) -> bool:
    """Whether two sets of predictions cover the same test images with the same labels."""
    import numpy as np

    return np.array_equal(stored["indices"], again["indices"]) and np.array_equal(stored["labels"], again["labels"])


def _data(arguments) -> int:
    from cifarcmp.data import source as data

    dataset = data.load(arguments.data)
    print(f"source:      {dataset.source}")
    print(f"description: {dataset.description}")
    print(
        f"sha256:      {dataset.sha256}  ({'verified against the official checksum' if dataset.verified else 'not the official checksum'})"
    )
    for departure in dataset.departures:
        print(f"NOT the official release: {departure}")
    print(
        f"images:      {len(dataset.y_train)} train, {len(dataset.y_test)} test, {dataset.x_train.dtype} {dataset.x_train.shape[1:]}"
    )
    print(f"{'class':<14}{'train':>8}{'test':>8}")
    for index, name in enumerate(dataset.class_names):
        print(f"{name:<14}{int((dataset.y_train == index).sum()):>8}{int((dataset.y_test == index).sum()):>8}")
    print("(train is split 45,000 / 5,000 into train and validation at training time, stratified and seeded)")
    return 0


def _render(arguments) -> int:
    from cifarcmp.paths import GENERATED_DIR
    from cifarcmp.report.render import render

    render(arguments.results, arguments.out or GENERATED_DIR)
    return 0


def _evaluate(arguments) -> int:
    from cifarcmp import results
    from cifarcmp.analysis import evaluation

    if arguments.flip and not arguments.predict:
        raise UserError("--flip predicts the mirrored test images from each run's kept model; add --predict")
    runs = results.find_runs(arguments.results)
    if not runs:
        raise UserError(f"{arguments.results}: holds no finished run")
    for path in runs:
        run = results.load_run(path)
        if arguments.predict:
            from cifarcmp.train import evaluate

            again = evaluate.predict_again(run, flip=arguments.flip)
            print(f"{path}: {evaluation.prediction_agreement(run.predictions, again)}")
            if arguments.flip:
                _flipped(run, again)
        result = evaluation.evaluation(run)
        results.write_evaluation(run, result)
        accuracy = result["accuracy"]
        interval = accuracy["interval"]
        print(
            f"{path}: test accuracy {accuracy['value']:.2%} "
            f"(95% interval {interval['lower']:.2%} to {interval['upper']:.2%}, {interval['method']}); "
            "evaluation.json and confusion.csv written"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
