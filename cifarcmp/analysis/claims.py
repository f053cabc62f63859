"""The "Claims tested" page: each claim of the seed report, the measurement that tests it, a verdict.

The seed report says transfer learning converges faster, generalises better, is more
resource-efficient and helps when data is scarce. `build_claims(studies)` tests each against the
study summaries and the runs they list (history.csv, predictions.npz), and computes a verdict, so
the words follow the data:

- "supported" / "not supported": the measurement favours / disfavours fine-tuned ResNet50 beyond
  the noise: McNemar's exact test significant at 5 %, or ranges that do not overlap (the range over
  seeds, or for a single run its exact 95 % interval for accuracies).
- "inconclusive": within that noise, or the measurements disagree.
- "not tested": the study that measures it was not run, or its runs cannot test it: a claim about
  transfer learning is not tested when no ImageNet weights were loaded (the smoke profile runs
  offline, so its "fine-tuned" ResNet50 starts from random weights). Its measurements are still
  shown, as a description of these runs, never as a verdict.

`studies` is an `analysis.runs.Studies` (`.rows(study, arm, fraction)`, `.run(row)`); the
measurements themselves (convergence, the paired test, intervals, accuracy per PFLOP) are those of
`analysis.measures`, shared with the other pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cifarcmp import architectures, stats
from cifarcmp.analysis.formatting import (
    NOT_REPORTED,
    PERCENT,
    Interval,
    Table,
    format_count,
    format_duration,
    format_flops,
    format_fraction,
    format_p_clause,
    format_p_value,
    format_percent,
    format_pp,
    format_stat,
    number,
)
from cifarcmp.analysis.measures import (
    CHANCE,
    CONVERGENCE_BAND_TEXT,
    SIGNIFICANCE_LEVEL,
    accuracy_per_petaflop,
    converged_epoch,
    label,
    paired_test,
    seconds_to_epoch,
    test_interval,
    train_validation_gap,
    validation_images,
)
from cifarcmp.config import ARMS

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_TESTED = "supported", "not supported", "inconclusive", "not tested"
TRANSFER, SCRATCH, RANDOM_INIT = "resnet50", "cnn", "resnet50-random"
BAND = CONVERGENCE_BAND_TEXT
OVERLAP = "within the noise (95 % intervals or ranges over seeds overlap)"


# Measurements used only here ---------------------------------------------------------------------


def flops_to_reach(history: list[dict], training_flops: float, target: float) -> tuple[int, float] | None:
    """(epoch, training FLOPs spent by its end) when validation accuracy first reaches `target`.

    Every epoch sees the same training images, so each costs training_flops / epochs run.
    """
    epoch = next((row["epoch"] for row in history if row["val_accuracy"] >= target), None)
    return None if epoch is None else (epoch, training_flops / len(history) * epoch)


def accuracy_range(values: list[float], counts: list[int]) -> tuple[float, float]:
    """Where an accuracy plausibly lies: the range over seeds, or one run's exact 95 % interval."""
    if len(values) > 1:
        return min(values), max(values)
    return stats.binomial_interval(round(values[0] * counts[0]), counts[0])


def separated(range_a, range_b, higher_is_better: bool = True) -> str | None:
    """ "a" or "b" when that side's range lies wholly on the better side of the other, else None."""
    if range_a[0] <= range_b[1] and range_b[0] <= range_a[1]:
        return None  # the ranges overlap
    better = "a" if range_a[0] > range_b[1] else "b"
    return better if higher_is_better else {"a": "b", "b": "a"}[better]


def verdict(favoured: list[str | None], every: bool = False) -> str:
    """ "a" favours ResNet50, "b" the CNN, None neither. Measurements of one claim support it when
    some favour ResNet50 and none the CNN; seed by seed (`every`), only when all seeds do."""
    sides = set(favoured) if every else set(favoured) - {None}
    return {frozenset("a"): SUPPORTED, frozenset("b"): NOT_SUPPORTED}.get(frozenset(sides), INCONCLUSIVE)


def _mcnemar_words(test: dict | None, label_a: str, label_b: str) -> str:
    if test is None:
        return "the two runs share no test images, so no paired test is possible"
    level = format_fraction(SIGNIFICANCE_LEVEL)
    outcome = (
        f"significant at {level}, in favour of {label_a if test['favoured'] == 'a' else label_b}"
        if test["significant"]
        else f"not significant at {level}"
    )
    return (
        f"on the {format_count(test['images'])} test images both scored, {label_a} was right where {label_b} "
        f"was wrong on {test['b']}, the reverse on {test['c']} "
        f"(McNemar {format_p_clause(test['p_value'])}, {outcome})"
    )


def _side_words(side: str | None, label_a: str, label_b: str, neutral: str) -> str:
    return neutral if side is None else f"in favour of {label_a if side == 'a' else label_b}"


# The claims --------------------------------------------------------------------------------


@dataclass
class Claim:
    key: str
    claim: str  # as the seed report makes it
    measurement: str  # what tests it
    verdict: str = NOT_TESTED
    findings: list[str] = field(default_factory=list)  # sentences, every number computed
    table: Table | None = None


def _missing(claim: Claim, studies, study: str, arms: tuple[str, ...]) -> bool:
    """Record why the claim is not tested and say so; False when its study has its arms."""
    if studies is None or study not in studies.summaries:
        claim.findings.append(f"Not tested: the {study} study was not run.")
        return True
    absent = [label(arm) for arm in arms if not studies.rows(study, arm)]
    if absent:
        claim.findings.append(f"Not tested: the {study} study has no {' or '.join(absent)} run.")
    return bool(absent)


def _pairs(studies, study: str, arm_a: str, arm_b: str, fraction: float | None = None) -> list[tuple[dict, dict]]:
    """Seed-matched rows of two arms: each pair shares its split and test subset."""
    rows_b = {row["seed"]: row for row in studies.rows(study, arm_b, fraction)}
    return [(row, rows_b[row["seed"]]) for row in studies.rows(study, arm_a, fraction) if row["seed"] in rows_b]


def convergence_claim(studies, synthetic: bool) -> Claim:
    claim = Claim(
        "convergence",
        "Transfer learning converges faster",
        f"epochs (and wall time) each arm needed to come within {BAND} of its own best validation "
        f"accuracy, and validation accuracy after epoch 1; {label(TRANSFER)} against {label(SCRATCH)}.",
    )
    if _missing(claim, studies, "arms", (TRANSFER, SCRATCH)):
        return claim
    measured, rows = {}, []
    for arm in (TRANSFER, SCRATCH):
        runs = [studies.run(row) for row in studies.rows("arms", arm)]
        epochs = [converged_epoch(run.history) for run in runs]
        seconds = [seconds_to_epoch(run.history, epoch) for run, epoch in zip(runs, epochs)]
        first = [run.history[0]["val_accuracy"] for run in runs]
        best = [max(row["val_accuracy"] for row in run.history) for run in runs]
        counts = [validation_images(run) for run in runs]
        # An arm stuck at chance is "within 1 pp of its best" at once; that is no convergence.
        learned = accuracy_range(best, counts)[0] > CHANCE
        measured[arm] = {
            "epochs": epochs,
            "seconds": seconds,
            "first": accuracy_range(first, counts),
            "learned": learned,
        }
        rows.append(
            [
                label(arm),
                format_stat(epochs, 0 if len(runs) == 1 else 1),
                format_duration(seconds),
                format_percent(first),
                format_percent(best),
                str(len(runs)),
            ]
        )
        if not learned:
            claim.findings.append(
                f"{label(arm)} never rose clearly above chance (best validation accuracy "
                f"{format_percent(best)}), so its epoch count says nothing about convergence."
            )
    a, b = measured[TRANSFER], measured[SCRATCH]
    span = lambda values: (min(values), max(values))  # noqa: E731 (a range over seeds, a point for one run)
    epochs_side = (
        separated(span(a["epochs"]), span(b["epochs"]), higher_is_better=False)
        if a["learned"] and b["learned"]
        else None
    )
    first_side = separated(a["first"], b["first"])
    seconds_side = separated(span(a["seconds"]), span(b["seconds"]), higher_is_better=False)
    claim.findings.append(
        f"Epochs to within {BAND} of the best validation accuracy: {rows[0][1]} against "
        f"{rows[1][1]}, {_side_words(epochs_side, label(TRANSFER), label(SCRATCH), 'no difference')}."
    )
    claim.findings.append(
        f"Validation accuracy after epoch 1: {rows[0][3]} against {rows[1][3]}, "
        f"{_side_words(first_side, label(TRANSFER), label(SCRATCH), OVERLAP)}."
    )
    if seconds_side is not None and seconds_side != epochs_side:
        claim.findings.append(
            f"In wall time, {label(TRANSFER if seconds_side == 'a' else SCRATCH)} got there first "
            f"({rows[0][2]} against {rows[1][2]}): an epoch of each costs very different time."
        )
    claim.verdict = verdict([epochs_side, first_side])
    claim.table = Table(
        "claims-convergence",
        f"How fast each arm converged: epochs and wall time until "
        f"its validation accuracy came within {BAND} of its own best (from its per-epoch history).",
        [
            "Arm",
            f"Epochs to within {BAND} of best",
            "Wall time to it",
            "Val. accuracy after epoch 1",
            "Best val. accuracy",
            "Runs",
        ],
        rows,
        synthetic,
    )
    return claim


def generalisation_claim(studies, synthetic: bool) -> Claim:
    claim = Claim(
        "generalisation",
        "It generalises better",
        f"test accuracy of {label(TRANSFER)} and {label(SCRATCH)} with exact 95 % intervals, McNemar's paired "
        "test on the same test images (seed-matched), and each arm's train − validation gap.",
    )
    if _missing(claim, studies, "arms", (TRANSFER, SCRATCH)):
        return claim
    pairs, rows, sides = _pairs(studies, "arms", TRANSFER, SCRATCH), [], []
    for row_a, row_b in pairs:
        run_a, run_b = studies.run(row_a), studies.run(row_b)
        test = paired_test(run_a, run_b)
        sides.append(test and test["favoured"])
        gaps = [format_pp(train_validation_gap(row), signed=True) for row in (row_a, row_b)]
        intervals = [test_interval(run) for run in (run_a, run_b)]
        rows.append(
            [
                str(row_a["seed"]),
                *(
                    cell
                    for interval in intervals
                    for cell in (number(interval["value"], PERCENT), Interval(interval["lower"], interval["upper"]))
                ),
                *gaps,
                format_count(test["images"]) if test else "0",
                str(test["b"]) if test else NOT_REPORTED,
                str(test["c"]) if test else NOT_REPORTED,
                format_p_value(test["p_value"]) if test else NOT_REPORTED,
            ]
        )
        claim.findings.append(
            f"Seed {row_a['seed']}: {_mcnemar_words(test, label(TRANSFER), label(SCRATCH))}; "
            f"train − validation gap {gaps[0]} for {label(TRANSFER)}, {gaps[1]} for {label(SCRATCH)}."
        )
    if not pairs:
        claim.findings.append("No seed was run for both arms, so no paired test is possible.")
    claim.verdict = verdict(sides, every=True)
    claim.table = Table(
        "claims-generalisation",
        f"Test accuracy (exact 95 % interval) and McNemar's exact test, "
        f"{label(TRANSFER)} (A) against {label(SCRATCH)} (B), seed by seed.",
        [
            "Seed",
            "A: test accuracy",
            "A: 95 % interval",
            "B: test accuracy",
            "B: 95 % interval",
            "A: train − val. gap",
            "B: train − val. gap",
            "Shared test images",
            "A right, B wrong",
            "A wrong, B right",
            "p-value",
        ],
        rows,
        synthetic,
    )
    return claim


def compute_claim(studies, synthetic: bool) -> Claim:
    claim = Claim(
        "compute",
        "It is more resource-efficient",
        f"counted training FLOPs and wall time of each arm, test accuracy per training PFLOP, and the "
        f"training FLOPs {label(TRANSFER)} spent until its validation accuracy first reached the best of "
        f"{label(SCRATCH)}, against everything {label(SCRATCH)} spent.",
    )
    if _missing(claim, studies, "arms", (TRANSFER, SCRATCH)):
        return claim
    for arm in dict.fromkeys(row["arm"] for row in studies.rows("arms")):
        arm_rows = studies.rows("arms", arm)
        per_petaflop = [accuracy_per_petaflop(row["test_accuracy"], row["training_flops"]) for row in arm_rows]
        claim.findings.append(
            f"{label(arm)}: {format_flops([row['training_flops'] for row in arm_rows])} of counted "
            f"training compute in {format_duration([row['wall_seconds'] for row in arm_rows])}, "
            f"{format_stat(per_petaflop, 1)} % test accuracy per training PFLOP."
        )
    rows, sides = [], []
    for row_a, row_b in _pairs(studies, "arms", TRANSFER, SCRATCH):
        target = max(entry["val_accuracy"] for entry in studies.run(row_b).history)
        reached = flops_to_reach(studies.run(row_a).history, row_a["training_flops"], target)
        total = row_b["training_flops"]
        sides.append("b" if reached is None else "a" if reached[1] < total else "b" if reached[1] > total else None)
        rows.append(
            [
                str(row_a["seed"]),
                format_percent([target]),
                f"epoch {reached[0]}" if reached else f"not within {row_a['epochs_run']} epochs",
                format_flops([reached[1]]) if reached else NOT_REPORTED,
                format_flops([total]),
                f"{reached[1] / total:.2f} ×" if reached and total else NOT_REPORTED,
            ]
        )
        claim.findings.append(
            f"Seed {row_a['seed']}: {label(TRANSFER)} "
            + (
                f"reached the best validation accuracy of {label(SCRATCH)} ({rows[-1][1]}) at epoch {reached[0]}, "
                f"after {rows[-1][3]}, {rows[-1][5]} the {rows[-1][4]} {label(SCRATCH)} trained for in all."
                if reached
                else f"never reached the best validation accuracy of {label(SCRATCH)} ({rows[-1][1]}) "
                f"in its {row_a['epochs_run']} epoch{'' if row_a['epochs_run'] == 1 else 's'} "
                f"({format_flops([row_a['training_flops']])})."
            )
        )
    claim.verdict = verdict(sides, every=True)
    claim.table = Table(
        "claims-compute",
        f"Training FLOPs {label(TRANSFER)} needed to first reach the best validation "
        f"accuracy of {label(SCRATCH)}, against the whole training of {label(SCRATCH)} (counted FLOPs; "
        "each epoch costs the run's training FLOPs / epochs run).",
        [
            "Seed",
            f"Best val. accuracy of {label(SCRATCH)}",
            f"{label(TRANSFER)} reached it at",
            f"{label(TRANSFER)}: FLOPs to that point",
            f"{label(SCRATCH)}: FLOPs in all",
            "Ratio",
        ],
        rows,
        synthetic,
    )
    return claim


def data_efficiency_table(studies, synthetic: bool) -> Table:
    rows = []
    for arm in dict.fromkeys(row["arm"] for row in studies.rows("data-efficiency")):
        for fraction in sorted({row["fraction"] for row in studies.rows("data-efficiency", arm)}):
            arm_rows = studies.rows("data-efficiency", arm, fraction)
            rows.append(
                [
                    label(arm),
                    format_fraction(fraction),
                    format_count(arm_rows[0]["train_images"]),
                    format_percent([row["test_accuracy"] for row in arm_rows]),
                    format_percent([row["val_accuracy"] for row in arm_rows]),
                    str(len(arm_rows)),
                ]
            )
    return Table(
        "studies-data-efficiency",
        "Accuracy against the share of the training split used (stratified); "
        "several seeds show mean ± std, n, min and max.",
        ["Arm", "Fraction of training split", "Training images", "Test accuracy", "Val. accuracy", "Runs"],
        rows,
        synthetic,
    )


def scarce_data_claim(studies, synthetic: bool) -> Claim:
    claim = Claim(
        "scarce-data",
        "It helps when data is scarce",
        f"at the smallest training fraction, the ResNet50 arm with the better validation accuracy against "
        f"{label(SCRATCH)}: McNemar's paired test on the same test images (lowest shared seed), and the "
        "accuracy-against-fraction table.",
    )
    if _missing(claim, studies, "data-efficiency", (SCRATCH,)):
        return claim
    claim.table = data_efficiency_table(studies, synthetic)
    smallest = min(row["fraction"] for row in studies.rows("data-efficiency"))
    scratch = {row["seed"]: row for row in studies.rows("data-efficiency", SCRATCH, smallest)}
    candidates = [
        row
        for row in studies.rows("data-efficiency", fraction=smallest)
        if architectures.get(ARMS[row["arm"]][0]).transfer and row["seed"] in scratch
    ]
    if not candidates:
        claim.findings.append(
            f"Not tested: no ResNet50 arm ran at {format_fraction(smallest)} with a seed the CNN ran."
        )
        return claim
    seed = min(row["seed"] for row in candidates)
    # Chosen on validation accuracy: picking on the test set would bias the test that follows.
    best = max((row for row in candidates if row["seed"] == seed), key=lambda row: row["val_accuracy"])
    test = paired_test(studies.run(best), studies.run(scratch[seed]))
    claim.verdict = verdict([test and test["favoured"]], every=True)
    claim.findings.append(
        f"At {format_fraction(smallest)} of the training split ({format_count(best['train_images'])} images for "
        f"{label(best['arm'])}, {format_count(scratch[seed]['train_images'])} for {label(SCRATCH)}), the ResNet50 arm "
        f"with the better validation accuracy, {label(best['arm'])}, scored {format_percent([best['test_accuracy']])} "
        f"against {format_percent([scratch[seed]['test_accuracy']])} (seed {seed}); "
        f"{_mcnemar_words(test, label(best['arm']), label(SCRATCH))}."
    )
    return claim


def separation(studies) -> str:
    """Architecture against pretraining: fine-tuned vs random-init ResNet50, random-init vs the CNN."""
    if studies is None or "arms" not in studies.summaries:
        return "Not tested: the arms study was not run."
    by_arm = {arm: {row["seed"]: row for row in studies.rows("arms", arm)} for arm in (TRANSFER, RANDOM_INIT, SCRATCH)}
    absent = [label(arm) for arm, rows in by_arm.items() if not rows]
    seeds = set.intersection(*(set(rows) for rows in by_arm.values()))
    if absent or not seeds:
        return (
            f"The arms study has no seed run by {label(TRANSFER)}, {label(RANDOM_INIT)} and {label(SCRATCH)} "
            "alike, so architecture and pretraining cannot be told apart."
        )
    fine, random, scratch = (by_arm[arm][min(seeds)] for arm in (TRANSFER, RANDOM_INIT, SCRATCH))
    if studies.run(fine).config.get("weights") == "none":
        # Both ResNet50 arms started from random weights: their difference is no pretraining's.
        return (
            f"Not tested: no ImageNet weights were loaded in this build, so {label(TRANSFER)} started from "
            f"random weights just as {label(RANDOM_INIT)} did, and nothing can be credited to pretraining. "
            f"Seed {min(seeds)}: {label(TRANSFER)} scored {format_percent([fine['test_accuracy']])}, "
            f"{label(RANDOM_INIT)} {format_percent([random['test_accuracy']])} and {label(SCRATCH)} "
            f"{format_percent([scratch['test_accuracy']])}."
        )
    pretraining = paired_test(studies.run(fine), studies.run(random))
    architecture = paired_test(studies.run(random), studies.run(scratch))
    lead = [
        (high["test_accuracy"] - low["test_accuracy"]) * 100
        for high, low in ((fine, scratch), (fine, random), (random, scratch))
    ]
    return (
        f"Seed {min(seeds)}: {label(TRANSFER)} scored {format_pp(lead[0], signed=True)} against {label(SCRATCH)}; "
        f"{format_pp(lead[1], signed=True)} of that come with the ImageNet weights (the same architecture from random "
        f"initialisation scored {format_percent([random['test_accuracy']])}: "
        f"{_mcnemar_words(pretraining, label(TRANSFER), label(RANDOM_INIT))}) and {format_pp(lead[2], signed=True)} with the "
        f"architecture alone ({_mcnemar_words(architecture, label(RANDOM_INIT), label(SCRATCH))})."
    )


def caveats(studies) -> list[str]:
    """What makes the arms' comparison unequal, from their own numbers."""
    notes = []
    transfer_runs = [studies.runs[row["run"]] for row in studies.rows("arms", TRANSFER)] if studies else []
    if any(run.config.get("weights") == "none" for run in transfer_runs):
        # The smoke profile runs offline, so its "transfer" arm starts from random weights too.
        notes.append(
            f"No ImageNet weights were loaded: {label(TRANSFER)} started from random weights, so this "
            "build does not test transfer learning at all, and every claim about it is not tested."
        )
    for row_a, row_b in (_pairs(studies, "arms", TRANSFER, SCRATCH) if studies else [])[:1]:
        if row_a["train_images"] != row_b["train_images"]:
            notes.append(
                f"{label(TRANSFER)} trained on {format_count(row_a['train_images'])} images and "
                f"{label(SCRATCH)} on {format_count(row_b['train_images'])}: the profile cuts them "
                "differently."
            )
        if row_a["epochs_run"] == 1:
            notes.append(f"{label(TRANSFER)} ran a single epoch, which says little about how it converges.")
    return notes


def untransferred(studies, study: str) -> list[str]:
    """The labels of `study`'s transfer arms with runs that loaded no pretrained weights (`none`).

    The frozen and fine-tuned arms stand for transfer learning; the random-initialisation arm is
    meant to start from random weights, so it is never counted here.
    """
    if studies is None or study not in studies.summaries:
        return []
    found = []
    for row in studies.rows(study):
        model, changes = ARMS.get(row["arm"], (row["arm"], {}))
        if changes.get("weights") == "none" or not architectures.get(model).transfer:
            continue
        if studies.run(row).config.get("weights") == "none" and label(row["arm"]) not in found:
            found.append(label(row["arm"]))
    return found


def _not_transfer(claim: Claim, studies) -> None:
    """A claim about transfer learning measured on runs that loaded no ImageNet weights: "not
    tested", said first, with the measurements kept below as a description of the runs."""
    study = "data-efficiency" if claim.key == "scarce-data" else "arms"
    arms = untransferred(studies, study)
    if not arms or claim.verdict == NOT_TESTED:
        return
    claim.findings.insert(
        0,
        f"Not tested: no ImageNet weights were loaded in this build ({' and '.join(arms)} started from random "
        f"weights), so it cannot test a claim about transfer learning. The measurement would have read "
        f'"{claim.verdict}"; it describes these runs only.',
    )
    claim.verdict = NOT_TESTED


def build_claims(studies, synthetic: bool) -> dict:
    """Every claim with its verdict, the separation sentence, caveats, and the tables they show."""
    claims = [
        builder(studies, synthetic)
        for builder in (convergence_claim, generalisation_claim, compute_claim, scarce_data_claim)
    ]
    for claim in claims:
        _not_transfer(claim, studies)
    summary = Table(
        "claims",
        "The seed report's claims, the measurement that tests each, and the verdict computed from the studies.",
        ["Claim", "Measurement", "Verdict"],
        [[claim.claim, claim.measurement[:1].upper() + claim.measurement[1:], claim.verdict] for claim in claims],
        synthetic,
        align=["l", "l", "l"],
    )
    tables = {summary.name: summary, **{claim.table.name: claim.table for claim in claims if claim.table}}
    return {"claims": claims, "separation": separation(studies), "caveats": caveats(studies), "tables": tables}
