"""The two models compared on the main runs: the Discussion's facts and the test-set evidence.

`discussion_facts(groups)` gives the numbers behind every sentence of the Discussion page;
`evidence(groups, synthetic)` evaluates every run from its predictions.npz (`analysis.evaluation`:
intervals, confusion, per-class scores, calibration) and pairs the two models' runs of the same
seed with McNemar's test (`analysis.measures.paired_test`). It always recomputes rather than
reading a run's `evaluation.json`: that takes milliseconds, and an old file can never leak into
the page.

Per-class scores, confusion matrices, reliability diagrams and the gallery are shown for one
reference run per model (`reference_runs`): ten classes times several seeds would bury the
reader, and the seed-to-seed spread is carried by the scalar figures (accuracy, ECE, NLL).
"""

from __future__ import annotations

from pathlib import Path

from cifarcmp import stats
from cifarcmp.analysis import evaluation
from cifarcmp.analysis.formatting import (
    COUNT,
    NOT_REPORTED,
    P_VALUE,
    PERCENT,
    SHARE,
    Interval,
    Table,
    format_p_clause,
    format_p_value,
    format_percent,
    mean,
    number,
    plain,
)
from cifarcmp.analysis.measures import (
    SIGNIFICANCE_LEVEL,
    converged_epoch,
    interval_text,
    paired_test,
    train_validation_gap,
)
from cifarcmp.config import SEED_REPORT
from cifarcmp.errors import UserError
from cifarcmp.results import Run, read_npz
from cifarcmp.stats import seed_spread

GALLERY_ARRAYS = ("images", "indices", "labels", "predicted", "confidence")


def reference_runs(groups) -> list[Run]:
    """One run per model: the lowest seed that every model ran, else each model's first seed.

    A shared seed makes the per-class table and the figures of the two models comparable run for
    run (same split, same test subset).
    """
    shared = set.intersection(*(set(group.seeds) for group in groups))
    if shared:
        seed = min(shared)
        return [next(run for run in group.runs if run.config["seed"] == seed) for group in groups]
    return [group.runs[0] for group in groups]


def read_gallery(run: Run) -> dict | None:
    """The run's gallery.npz as arrays, None when the run did not record one."""
    path = run.path / "gallery.npz"
    if not path.is_file():
        return None
    gallery = read_npz(path, GALLERY_ARRAYS)
    images = gallery["images"]
    if (
        images.dtype.name != "uint8"
        or images.ndim != 4
        or images.shape[-1] != 3
        or images.shape[0] != gallery["indices"].shape[0]
    ):
        raise UserError(f"{path}: images of shape {images.shape} do not match {gallery['indices'].shape[0]} indices")
    return gallery


def gallery_items(run: Run, result: dict) -> list[dict] | None:
    """The confident mistakes of `result` (an evaluation) that have an image in gallery.npz.

    Labels and confidence come from the evaluation, i.e. from predictions.npz; the gallery only
    supplies the pixels, matched by test index. None when the run has no gallery.npz.
    """
    gallery = read_gallery(run)
    if gallery is None:
        return None
    images = {int(index): image for index, image in zip(gallery["indices"], gallery["images"])}
    return [
        {**mistake, "image": images[mistake["test_index"]]}
        for mistake in result["confident_mistakes"]
        if mistake["test_index"] in images
    ]


def _pair(group_a, group_b, run_a: Run, run_b: Run) -> dict:
    entry = {"seed": run_a.config["seed"], "label_a": group_a.label, "label_b": group_b.label}
    test = paired_test(run_a, run_b)
    if test is None:
        # No test image in common: a paired test is impossible, and the page says so.
        return {**entry, "paired": False}
    favoured = {"a": group_a.label, "b": group_b.label}.get(test["favoured"])
    return {
        **entry,
        "paired": True,
        "test_images": test["images"],
        "b": test["b"],
        "c": test["c"],
        "p_value": test["p_value"],
        "p_text": format_p_value(test["p_value"]),
        "p_clause": format_p_clause(test["p_value"]),  # for a sentence: "p = 0.03", "p < 0.0001"
        "significant": test["significant"],
        "favoured": favoured,
    }


def paired_comparisons(groups) -> list[dict]:
    """McNemar for every seed both of the first two models ran (report order: ResNet50, CNN)."""
    if len(groups) < 2:
        return []
    group_a, group_b = groups[:2]
    runs_b = {run.config["seed"]: run for run in group_b.runs}
    return [
        _pair(group_a, group_b, run, runs_b[run.config["seed"]]) for run in group_a.runs if run.config["seed"] in runs_b
    ]


def evidence(groups, synthetic: bool) -> dict:
    """{"tables": [Table, ...], "facts": {...}} for the evidence page's templates, and "evaluations":
    each run's evaluation (by its path), which the figures are drawn from."""
    results = {run.path: evaluation.evaluation(run) for group in groups for run in group.runs}
    references = reference_runs(groups)
    models = []
    for group, reference in zip(groups, references):
        runs = [results[run.path] for run in group.runs]
        gallery = gallery_items(reference, results[reference.path])
        models.append(
            {
                "model": group.model,
                "label": group.label,
                "count": group.count,
                "reference": results[reference.path],
                "accuracy": format_percent([result["accuracy"]["value"] for result in runs]),
                "runs": [
                    {
                        "seed": run.config["seed"],
                        "interval": interval_text(result["accuracy"]["interval"]),
                        "result": result,
                    }
                    for run, result in zip(group.runs, runs)
                ],
                "gallery": gallery is not None,
                "gallery_shown": len(gallery or []),
            }
        )
    pairs = paired_comparisons(groups)
    differences = []
    if len(models) >= 2:
        first, second = (model["reference"] for model in models[:2])
        differences = stats.largest_class_differences(
            [row["f1"] for row in first["per_class"]],
            [row["f1"] for row in second["per_class"]],
            first["class_names"],
            evaluation.DIFFERENCES_SHOWN,
        )
    facts = {
        "models": models,
        "pairs": pairs,
        "paired": [pair for pair in pairs if pair["paired"]],
        "differences": differences,
        "reference_seeds": sorted({model["reference"]["seed"] for model in models}),
        "confidence": round(evaluation.CONFIDENCE * 100),
        "level": round(SIGNIFICANCE_LEVEL * 100),
        "bins": evaluation.CALIBRATION_BINS,
    }
    tables = [
        accuracy_table(groups, results, synthetic),
        summary_table(groups, results, synthetic),
        calibration_table(groups, results, synthetic),
    ]
    if pairs:
        tables.append(mcnemar_table(pairs, synthetic))
    tables.append(per_class_table(models, synthetic))
    for model in models:
        tables += confusion_tables(model, synthetic)
    return {"tables": tables, "facts": facts, "evaluations": results}


# Tables --------------------------------------------------------------------------------------

INTERVAL_COLUMN = "95 % interval (exact binomial, Clopper–Pearson)"


def accuracy_table(groups, results: dict[Path, dict], synthetic: bool) -> Table:
    rows = []
    for group in groups:
        for run in group.runs:
            result = results[run.path]
            interval = result["accuracy"]["interval"]
            rows.append(
                [
                    group.label,
                    number(run.config["seed"], COUNT),
                    number(result["accuracy"]["correct"], COUNT),
                    number(result["test_images"], COUNT),
                    number(result["accuracy"]["value"], PERCENT),
                    Interval(interval["lower"], interval["upper"]),
                ]
            )
    return Table(
        "evidence-accuracy",
        "Test accuracy of each run with its exact 95 % confidence interval "
        "(Clopper–Pearson), computed from each run's stored test predictions.",
        ["Model", "Seed", "Right", "Test images", "Test accuracy", INTERVAL_COLUMN],
        rows,
        synthetic,
    )


def summary_table(groups, results: dict[Path, dict], synthetic: bool) -> Table:
    """The spread of test accuracy over seeds, in columns of its own (each seed's interval is above)."""
    rows = []
    for group in groups:
        values = [results[run.path]["accuracy"]["value"] for run in group.runs]
        spread = seed_spread(values)
        rows.append(
            [
                group.label,
                number(group.count, COUNT),
                number(spread["mean"], PERCENT),
                NOT_REPORTED if spread["std"] is None else number(spread["std"], PERCENT),
                number(spread["min"], PERCENT),
                number(spread["max"], PERCENT),
            ]
        )
    return Table(
        "evidence-summary",
        "Test accuracy per model over seeds: mean, sample standard deviation (— for a single run), "
        "lowest and highest; each seed's exact 95 % interval is in the table above.",
        ["Model", "Seeds", "Mean test accuracy", "Std", "Lowest", "Highest"],
        rows,
        synthetic,
    )


def calibration_table(groups, results: dict[Path, dict], synthetic: bool) -> Table:
    rows = []
    for group in groups:
        runs = [results[run.path] for run in group.runs]
        rows.append(
            [
                group.label,
                number(group.count, COUNT),
                number([result["expected_calibration_error"]["value"] for result in runs], plain(4)),
                number([result["negative_log_likelihood"] for result in runs], plain(4)),
            ]
        )
    return Table(
        "evidence-calibration",
        f"Calibration on the test set: expected calibration error "
        f"({evaluation.CALIBRATION_BINS} equal-width confidence bins; 0 is perfect) and negative "
        "log-likelihood (nats per image; lower is better).",
        ["Model", "Seeds", "ECE", "NLL (nats)"],
        rows,
        synthetic,
    )


def mcnemar_table(pairs: list[dict], synthetic: bool) -> Table:
    first, second = pairs[0]["label_a"], pairs[0]["label_b"]
    rows = []
    for pair in pairs:
        if not pair["paired"]:
            rows.append([number(pair["seed"], COUNT), None, None, None, None, "no test: different images"])
            continue
        verdict = "significant" if pair["significant"] else "not significant"
        if pair["significant"] and pair["favoured"]:
            verdict += f", favours {pair['favoured']}"
        rows.append(
            [
                number(pair["seed"], COUNT),
                number(pair["test_images"], COUNT),
                number(pair["b"], COUNT),
                number(pair["c"], COUNT),
                number(pair["p_value"], P_VALUE),
                verdict,
            ]
        )
    return Table(
        "evidence-mcnemar",
        f"{first} against {second} on the same test images, seed by seed: exact "
        "two-sided McNemar test on the images exactly one model classified correctly.",
        [
            "Seed",
            "Test images",
            f"b: only {first} right",
            f"c: only {second} right",
            "p-value",
            f"At the {round(SIGNIFICANCE_LEVEL * 100)} % level",
        ],
        rows,
        synthetic,
        align=["l", "r", "r", "r", "r", "l"],
    )


def per_class_table(models: list[dict], synthetic: bool) -> Table:
    columns = ["Class"]
    for model in models:
        columns += [f"{model['label']} precision", f"{model['label']} recall", f"{model['label']} F1"]
    rows = []
    for index, name in enumerate(models[0]["reference"]["class_names"]):
        row = [name]
        for model in models:
            scores = model["reference"]["per_class"][index]
            row += [number(scores[key], plain(3)) for key in ("precision", "recall", "f1")]
        rows.append(row)
    runs = ", ".join(f"{model['label']} seed {model['reference']['seed']}" for model in models)
    # The support (test images per class) is on the Data page; here it would push the table wider
    # than the text column.
    return Table(
        "evidence-per-class", f"Precision, recall and F1 per class on the test set ({runs}).", columns, rows, synthetic
    )


def confusion_tables(model: dict, synthetic: bool) -> list[Table]:
    result = model["reference"]
    names = result["class_names"]
    scope = f"{model['label']}, seed {result['seed']}"
    counts = [
        [name] + [number(value, COUNT) for value in row] for name, row in zip(names, result["confusion"]["counts"])
    ]
    shares = [
        [name] + [number(value, SHARE) for value in row]
        for name, row in zip(names, result["confusion"]["row_normalised"])
    ]
    columns = ["True \\ predicted", *names]
    return [
        Table(
            f"confusion-counts-{model['model']}",
            f"Confusion matrix of {scope}: test images per true class (rows) and predicted class (columns).",
            columns,
            counts,
            synthetic,
        ),
        Table(
            f"confusion-normalised-{model['model']}",
            f"Row-normalised confusion matrix of {scope}: % of each "
            "true class's test images given each predicted class (the diagonal is the recall).",
            columns,
            shares,
            synthetic,
        ),
    ]


# The Discussion page ------------------------------------------------------------------------


def discussion_facts(groups) -> dict:
    """The numbers behind every factual sentence of the Discussion page.

    Percentages are percentage points (pp) of accuracy. Thresholds for the wording (a 2 pp and a
    5 pp train-validation gap) are the report's, stated on the page; convergence is
    `measures.converged_epoch`, the same rule the Claims page uses.
    """
    models = []
    for group in groups:
        # Rounded as printed, so the words never disagree with the number shown beside them.
        gap = round(mean([train_validation_gap(run.metrics) for run in group.runs]), 1)
        if gap > 5:
            gap_words = "a clear overfitting gap"
        elif gap > 2:
            gap_words = "a moderate gap"
        elif gap >= -2:
            gap_words = "little sign of overfitting"
        else:
            gap_words = "validation accuracy above training accuracy"
        # A synthetic run's accuracy says nothing about CIFAR-10: no comparison with the seed's.
        synthetic = any(run.synthetic for run in group.runs)
        reference = None if synthetic else SEED_REPORT.get(group.model, {}).get("test_accuracy_value")
        test = mean(group.metric("test_accuracy"))
        models.append(
            {
                "label": group.label,
                "count": group.count,
                "test": test * 100,
                "val": mean(group.metric("val_accuracy")) * 100,
                "train": mean(group.metric("train_accuracy")) * 100,
                "gap": gap,
                "gap_words": gap_words,
                "best_epoch": mean(group.metric("best_epoch")),
                "epochs_run": mean(group.metric("epochs_run")),
                "max_epochs": group.config["epochs"],
                "stopped_early": sum(bool(run.metrics["stopped_early"]) for run in group.runs),
                "best_is_last": all(run.metrics["best_epoch"] == run.metrics["epochs_run"] for run in group.runs),
                "converged_epoch": mean([converged_epoch(run.history) for run in group.runs]),
                "vs_seed": None if reference is None else (test - reference) * 100,
                "profile": group.config["profile"],
                "parameters": group.runs[0].metrics["parameters"]["total"],
                "wall": mean(group.metric("wall_seconds")),
            }
        )
    facts = {"models": models, "single": all(model["count"] == 1 for model in models), "pair": None}
    if len(models) >= 2:
        ranked = sorted(models[:2], key=lambda model: model["test"], reverse=True)
        winner, loser = ranked
        margin = winner["test"] - loser["test"]
        bigger, smaller = sorted(models[:2], key=lambda model: model["parameters"], reverse=True)
        facts["pair"] = {
            "winner": winner,
            "loser": loser,
            "margin": margin,
            # Below 0.05 pp the printed difference rounds to 0.0: call it level.
            "level": margin < 0.05,
            "bigger": bigger,
            "smaller": smaller,
            "parameter_ratio": bigger["parameters"] / max(1, smaller["parameters"]),
            "time_ratio": bigger["wall"] / smaller["wall"] if smaller["wall"] > 0 else None,
        }
    return facts
