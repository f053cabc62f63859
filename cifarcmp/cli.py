"""The `cifarcmp` command: train, data, render, evaluate.

Bad input ends in one line on stderr and a non-zero exit, never a traceback: every check raises
UserError, and `main` turns it into that line. Heavy imports (Keras, TensorFlow) happen inside
the commands, so `--help` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cifarcmp.config import MODELS, PRECISIONS, PROFILES
from cifarcmp.errors import UserError

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
        help="resnet50 only: imagenet (Keras' verified download), none (random initialisation) or a PATH to a notop .h5 (default: the profile's)",
    )
    train.add_argument("--seed", type=int, default=0, help="seeds the split, subsets, initialisation and shuffling")
    train.add_argument("--precision", default=None, help=PRECISION_HELP)
    train.add_argument(
        "--out", type=Path, default=None, help="results directory (default: results/<profile>/<model>/seed-<seed>)"
    )
    train.add_argument(
        "--force", action="store_true", help="replace a finished run, or discard an interrupted one with other settings"
    )

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
        help="run opt-in studies of the seed's claims (arms, data efficiency, Grad-CAM)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train the runs a study needs (finished ones are kept) and write its summary.json "
        "under results/studies-<profile>/.",
    )
    study.add_argument("--studies", required=True, help="comma-separated: arms, data-efficiency, gradcam")
    study.add_argument("--profile", default="paper", help="as for train")
    study.add_argument("--data", default=None, help=DATA_HELP)
    study.add_argument("--weights", default=None, help="as for train (the random-initialisation arm always uses none)")
    study.add_argument("--precision", default=None, help=PRECISION_HELP)
    study.add_argument("--seeds", type=int, default=1, help="seeds per run (0..N-1)")
    study.add_argument(
        "--fractions", default="0.01,0.1,1", help="data-efficiency: fractions of the training split, each in (0, 1]"
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="(re)compute the evaluation of finished runs, without retraining",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    evaluate.add_argument("results", type=Path, help="a run directory, or a folder of runs")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides our output
    try:
        commands = {"train": _train, "data": _data, "render": _render, "evaluate": _evaluate, "study": _study}
        return commands[arguments.command](arguments)
    except UserError as error:
        print(f"cifarcmp: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "cifarcmp: interrupted; run the same command again to resume from the last completed epoch", file=sys.stderr
        )
        return 130


def _train(arguments) -> int:
    from cifarcmp import config

    if arguments.profile not in PROFILES:
        raise UserError(f"unknown profile {arguments.profile!r}; choose one of: {', '.join(PROFILES)}")
    resolved = config.resolve(
        arguments.model,
        arguments.profile,
        data=arguments.data,
        seed=arguments.seed,
        weights=_weights(arguments.weights),
        precision=arguments.precision,
    )
    out = arguments.out or config.default_run_dir(resolved)
    from cifarcmp.train.run import train  # imports Keras: after the arguments are known to be good

    train(resolved, out, force=arguments.force)
    return 0


def _study(arguments) -> int:
    from cifarcmp.train import studies as study

    studies = study.parse_studies(arguments.studies)
    fractions = study.parse_fractions(arguments.fractions)
    if arguments.profile not in PROFILES:
        raise UserError(f"unknown profile {arguments.profile!r}; choose one of: {', '.join(PROFILES)}")
    if arguments.seeds < 1:
        raise UserError(f"--seeds {arguments.seeds}: need at least one seed")
    study.run(
        studies,
        arguments.profile,
        list(range(arguments.seeds)),
        fractions,
        data=arguments.data,
        weights=_weights(arguments.weights),
        precision=arguments.precision,
    )
    return 0


def _weights(value: str | None) -> str | None:
    if value is None or value in ("imagenet", "none"):
        return value
    return str(Path(value).expanduser().resolve())


def _data(arguments) -> int:
    from cifarcmp.data import source as data

    dataset = data.load(arguments.data)
    print(f"source:      {dataset.source}")
    print(f"description: {dataset.description}")
    print(
        f"sha256:      {dataset.sha256}  ({'verified against the official checksum' if dataset.verified else 'not the official checksum'})"
    )
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

    runs = results.find_runs(arguments.results)
    if not runs:
        raise UserError(f"{arguments.results}: holds no finished run")
    for path in runs:
        run = results.load_run(path)
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
