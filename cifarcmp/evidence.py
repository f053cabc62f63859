"""The Test-set evidence page's numbers, tables and sentences, computed from predictions.npz.

`build(groups, synthetic)` evaluates every run with `cifarcmp.evaluate.evaluation` (intervals,
confusion, per-class scores, calibration) and pairs the two models' runs of the same seed with
`cifarcmp.evaluate.compare_runs` (McNemar). It always recomputes rather than reading a run's
`evaluation.json`: that takes milliseconds, and an old evaluation.json can never leak into the
page. The figures are drawn by the executed page `docs/evidence.md` from the same functions.

Per-class scores, confusion matrices, reliability diagrams and the gallery are shown for one
reference run per model (`reference_runs`): ten classes times several seeds would bury the
reader, and the seed-to-seed spread is carried by the scalar figures (accuracy, ECE, NLL).
"""

from __future__ import annotations

from pathlib import Path

from cifarcmp import evaluate, stats
from cifarcmp.errors import UserError
from cifarcmp.results import Run, read_npz
from cifarcmp.tables import NOT_REPORTED, Table, format_count, format_percent, format_stat, spread_label

SIGNIFICANCE_LEVEL = 0.05  # the conventional 5 %, named in every verdict
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
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[0] != gallery["indices"].shape[0]:
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
    return [{**mistake, "image": images[mistake["test_index"]]}
            for mistake in result["confident_mistakes"] if mistake["test_index"] in images]


def _interval(result: dict, digits: int = 2) -> str:
    interval = result["accuracy"]["interval"]
    return f"{interval['lower'] * 100:.{digits}f} – {interval['upper'] * 100:.{digits}f} %"


def format_p_value(p_value: float) -> str:
    """Three decimals, or scientific notation below 0.001 so a tiny p-value never reads as 0."""
    return f"{p_value:.3f}" if p_value >= 0.001 else f"{p_value:.1e}"


def _pair(group_a, group_b, run_a: Run, run_b: Run) -> dict:
    entry = {"seed": run_a.config["seed"], "label_a": group_a.label, "label_b": group_b.label}
    try:
        comparison = evaluate.compare_runs(run_a.path, run_b.path)
    except UserError:
        # Different test subsets or labels: a paired test is impossible, and the page says so.
        return {**entry, "paired": False}
    test = comparison["mcnemar"]
    b, c, p_value = test["a_right_b_wrong"], test["a_wrong_b_right"], test["p_value"]
    favoured = group_a.label if b > c else group_b.label if c > b else None
    return {**entry, "paired": True, "test_images": comparison["test_images"], "b": b, "c": c,
            "p_value": p_value, "p_text": format_p_value(p_value),
            "significant": p_value < SIGNIFICANCE_LEVEL, "favoured": favoured}


def paired_comparisons(groups) -> list[dict]:
    """McNemar for every seed both of the first two models ran (report order: ResNet50, CNN)."""
    if len(groups) < 2:
        return []
    group_a, group_b = groups[:2]
    runs_b = {run.config["seed"]: run for run in group_b.runs}
    return [_pair(group_a, group_b, run, runs_b[run.config["seed"]])
            for run in group_a.runs if run.config["seed"] in runs_b]


def build(groups, synthetic: bool) -> dict:
    """{"tables": [Table, ...], "facts": {...}} for the evidence page's templates."""
    results = {run.path: evaluate.evaluation(run) for group in groups for run in group.runs}
    references = reference_runs(groups)
    models = []
    for group, reference in zip(groups, references):
        runs = [results[run.path] for run in group.runs]
        gallery = gallery_items(reference, results[reference.path])
        models.append({
            "model": group.model, "label": group.label, "count": group.count,
            "reference": results[reference.path],
            "accuracy": format_percent([result["accuracy"]["value"] for result in runs]),
            "runs": [{"seed": run.config["seed"], "interval": _interval(result), "result": result}
                     for run, result in zip(group.runs, runs)],
            "gallery": gallery is not None,
            "gallery_shown": len(gallery or []),
        })
    pairs = paired_comparisons(groups)
    differences = []
    if len(models) >= 2:
        first, second = (model["reference"] for model in models[:2])
        differences = stats.largest_class_differences(
            [row["f1"] for row in first["per_class"]], [row["f1"] for row in second["per_class"]],
            first["class_names"], evaluate.DIFFERENCES_SHOWN)
    facts = {
        "models": models,
        "pairs": pairs,
        "paired": [pair for pair in pairs if pair["paired"]],
        "differences": differences,
        "reference_seeds": sorted({model["reference"]["seed"] for model in models}),
        "confidence": round(evaluate.CONFIDENCE * 100),
        "level": round(SIGNIFICANCE_LEVEL * 100),
        "bins": evaluate.CALIBRATION_BINS,
    }
    tables = [accuracy_table(groups, results, synthetic), summary_table(models, synthetic),
              calibration_table(groups, results, synthetic)]
    if pairs:
        tables.append(mcnemar_table(pairs, synthetic))
    tables.append(per_class_table(models, synthetic))
    for model in models:
        tables += confusion_tables(model, synthetic)
    return {"tables": tables, "facts": facts}


# Tables --------------------------------------------------------------------------------------

INTERVAL_COLUMN = "95 % interval (exact binomial, Clopper–Pearson)"


def accuracy_table(groups, results: dict[Path, dict], synthetic: bool) -> Table:
    rows = []
    for group in groups:
        for run in group.runs:
            result = results[run.path]
            rows.append([group.label, str(run.config["seed"]),
                         f"{format_count(result['accuracy']['correct'])} of {format_count(result['test_images'])}",
                         format_percent([result["accuracy"]["value"]]), _interval(result)])
    return Table("evidence-accuracy", "Test accuracy of each run with its exact 95 % confidence interval "
                 "(Clopper–Pearson), computed from predictions.npz.",
                 ["Model", "Seed", "Right (of test images)", "Test accuracy", INTERVAL_COLUMN], rows, synthetic)


def summary_table(models: list[dict], synthetic: bool) -> Table:
    rows = []
    for model in models:
        if model["count"] == 1:
            intervals = model["runs"][0]["interval"]
        else:
            intervals = "; ".join(f"seed {run['seed']}: {run['interval']}" for run in model["runs"])
        rows.append([model["label"], spread_label(model["count"]), model["accuracy"], intervals])
    return Table("evidence-summary", "Test accuracy per model: the spread over seeds, and each seed's exact 95 % "
                 "interval for the test-set sampling error (Clopper–Pearson).",
                 ["Model", "Runs", "Test accuracy", INTERVAL_COLUMN], rows, synthetic, align=["l", "l", "r", "r"])


def calibration_table(groups, results: dict[Path, dict], synthetic: bool) -> Table:
    rows = []
    for group in groups:
        runs = [results[run.path] for run in group.runs]
        rows.append([group.label, spread_label(group.count),
                     format_stat([result["expected_calibration_error"]["value"] for result in runs], 4),
                     format_stat([result["negative_log_likelihood"] for result in runs], 4)])
    return Table("evidence-calibration", f"Calibration on the test set: expected calibration error "
                 f"({evaluate.CALIBRATION_BINS} equal-width confidence bins; 0 is perfect) and negative "
                 "log-likelihood (nats per image; lower is better).",
                 ["Model", "Runs", "ECE", "NLL (nats)"], rows, synthetic, align=["l", "l", "r", "r"])


def mcnemar_table(pairs: list[dict], synthetic: bool) -> Table:
    first, second = pairs[0]["label_a"], pairs[0]["label_b"]
    rows = []
    for pair in pairs:
        if not pair["paired"]:
            rows.append([str(pair["seed"]), NOT_REPORTED, NOT_REPORTED, NOT_REPORTED, NOT_REPORTED,
                         "no test: different images"])
            continue
        verdict = "significant" if pair["significant"] else "not significant"
        if pair["significant"] and pair["favoured"]:
            verdict += f", favours {pair['favoured']}"
        rows.append([str(pair["seed"]), format_count(pair["test_images"]), format_count(pair["b"]),
                     format_count(pair["c"]), pair["p_text"], verdict])
    return Table("evidence-mcnemar", f"{first} against {second} on the same test images, seed by seed: exact "
                 "two-sided McNemar test on the images exactly one model classified correctly.",
                 ["Seed", "Test images", f"b: only {first} right", f"c: only {second} right", "p-value",
                  f"At the {round(SIGNIFICANCE_LEVEL * 100)} % level"], rows, synthetic,
                 align=["l", "r", "r", "r", "r", "l"])


def per_class_table(models: list[dict], synthetic: bool) -> Table:
    columns = ["Class"]
    for model in models:
        columns += [f"{model['label']} precision", f"{model['label']} recall", f"{model['label']} F1"]
    rows = []
    for index, name in enumerate(models[0]["reference"]["class_names"]):
        row = [name]
        for model in models:
            scores = model["reference"]["per_class"][index]
            row += [f"{scores[key]:.3f}" for key in ("precision", "recall", "f1")]
        rows.append(row)
    runs = ", ".join(f"{model['label']} seed {model['reference']['seed']}" for model in models)
    # The support (test images per class) is on the Data page; here it would push the table wider
    # than the text column.
    return Table("evidence-per-class", f"Precision, recall and F1 per class on the test set ({runs}).",
                 columns, rows, synthetic)


def confusion_tables(model: dict, synthetic: bool) -> list[Table]:
    result = model["reference"]
    names = result["class_names"]
    scope = f"{model['label']}, seed {result['seed']}"
    counts = [[name] + [format_count(value) for value in row]
              for name, row in zip(names, result["confusion"]["counts"])]
    shares = [[name] + [f"{value * 100:.1f}" for value in row]
              for name, row in zip(names, result["confusion"]["row_normalised"])]
    columns = ["True \\ predicted", *names]
    return [
        Table(f"confusion-counts-{model['model']}", f"Confusion matrix of {scope}: test images per true class "
              "(rows) and predicted class (columns).", columns, counts, synthetic),
        Table(f"confusion-normalised-{model['model']}", f"Row-normalised confusion matrix of {scope}: % of each "
              "true class's test images given each predicted class (the diagonal is the recall).",
              columns, shares, synthetic),
    ]
