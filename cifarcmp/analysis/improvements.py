"""The improvement studies measured: each study's table, the Improvements page's summary, its figure's
points and its sentences. One definition per measurement, shared by every table here:

- a run set's test accuracy: the mean over its seeds' runs (their spread in the cell's tooltip);
- the change an improvement makes against the seed's protocol (`paired_change`): both run sets
  scored on the same test images, seed with seed, and the pairs pooled; the gain in percentage
  points, its exact 95 % interval and McNemar's exact test, from analysis.ensembles.paired_gain
  (which uses cifarcmp.stats). The interval and the test count test images, not training seeds;
- training compute: the counted training FLOPs each run recorded (train/compute.py), summed over the
  runs an ensemble averages; time: the runs' measured wall time;
- inference cost: counted forward FLOPs per image times the forward passes a prediction takes
  (analysis.ensembles.inference_cost_multiplier).

Reads the studies' summaries and their runs' predictions (analysis.runs.Studies); writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cifarcmp import architectures, config
from cifarcmp.analysis import ensembles, evaluation
from cifarcmp.analysis.formatting import (
    COUNT,
    FLOPS,
    NOT_READ,
    NOT_REPORTED,
    P_VALUE,
    PERCENT,
    RATE,
    RATIO,
    SECONDS,
    SIGNED_PP,
    Interval,
    Table,
    format_p_clause,
    number,
)
from cifarcmp.analysis.measures import SIGNIFICANCE_LEVEL, at_chance, label, mean_epoch_seconds
from cifarcmp.errors import UserError
from cifarcmp.results import read_npz
from cifarcmp.studies import augmentation, backbones, distillation, resolution
from cifarcmp.studies.ensembles import FLIPPED

# The improvement studies, in the order the Improvements page shows them.
IMPROVEMENT_STUDIES = ("augmentation", "backbones", "resolution", "ensembles", "distillation", "learning-rate")
SEED_MODELS = config.SEED_MODELS
CHANGE_COLUMNS = ["Change (pp)", "95 % interval (pp)", "p (McNemar)"]


# Rows and runs ------------------------------------------------------------------------------------


def variant_rows(studies, study: str, arm: str, variant: str | None = None) -> list[dict]:
    """The study's rows of one arm (and one variant, when given), by seed."""
    return [row for row in studies.rows(study, arm) if variant is None or row.get("variant", "") == variant]


def variants(studies, study: str, arm: str) -> list[str]:
    """The variants of an arm in a study, in the summary's order."""
    return list(dict.fromkeys(row.get("variant", "") for row in studies.rows(study, arm)))


def arms(studies, study: str) -> list[str]:
    return list(dict.fromkeys(row["arm"] for row in studies.summaries.get(study, {}).get("runs", [])))


def accuracy_cell(rows: list[dict]):
    return number([row["test_accuracy"] for row in rows], PERCENT)


def mean_of(rows: list[dict], key: str) -> float:
    return float(np.mean([row[key] for row in rows]))


# The change against the seed's protocol ----------------------------------------------------------


def _pooled_pairs(studies, rows_a: list[dict], rows_b: list[dict]):
    """Labels and both sides' probabilities, seed paired with seed on the test images both scored,
    all seeds' pairs pooled; None when no seed of A has a run of B that shares a test image."""
    by_seed = {row["seed"]: row for row in rows_b}
    labels, first, second = [], [], []
    for row in rows_a:
        other = by_seed.get(row["seed"])
        if other is None:
            continue
        aligned = evaluation.aligned_predictions(studies.run(row), studies.run(other), same_images=False)
        if aligned is None:
            continue
        labels.append(aligned[0])
        first.append(aligned[1])
        second.append(aligned[2])
    if not labels:
        return None
    return np.concatenate(labels), np.concatenate(first), np.concatenate(second)


def paired_change(studies, rows_a: list[dict], rows_b: list[dict]) -> dict | None:
    """How much more accurate run set A is than B: the paired gain, its 95 % interval and McNemar's
    exact test on the pooled seed-with-seed pairs of test images (ensembles.paired_gain)."""
    pooled = _pooled_pairs(studies, rows_a, rows_b)
    if pooled is None:
        return None
    return _with_verdict(ensembles.paired_gain(*pooled))


def _with_verdict(gain: dict) -> dict:
    gain = dict(gain)
    gain["significant"] = gain["p_value"] < SIGNIFICANCE_LEVEL
    gain["at_chance"] = at_chance(gain["accuracy_a"], gain["images"]) and at_chance(gain["accuracy_b"], gain["images"])
    return gain


def change_cells(change: dict | None) -> list:
    """The change's three cells: gain (pp), its 95 % interval (pp) and the test's p."""
    if change is None:
        return [NOT_REPORTED] * 3
    return [
        number(change["gain"] * 100, SIGNED_PP),
        Interval(change["lower"] * 100, change["upper"] * 100, SIGNED_PP),
        number(change["p_value"], P_VALUE),
    ]


# Ensembles and test-time augmentation ---------------------------------------------------------------


def read_flipped(run, shape: tuple[int, ...]) -> np.ndarray | None:
    """A run's probabilities on its mirrored test images (in the order, and of the `shape`, of its
    `probabilities`), None when the run saved none (runs from before training saved them)."""
    path = run.path / "predictions.npz"
    try:
        flipped = read_npz(path, (FLIPPED,))[FLIPPED]
    except UserError as error:
        if "missing arrays" in str(error):
            return None
        raise
    if flipped.shape != tuple(shape):
        raise UserError(f"{path}: {FLIPPED} has shape {flipped.shape}, expected {tuple(shape)}")
    return flipped.astype(np.float64)


def aligned_members(runs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Labels, the (members, images, classes) stack of the runs' probabilities on the test images
    every run scored, and the same stack on the mirrored images (None unless every run saved it).

    Runs of different seeds may score different test subsets (the smoke profile cuts the test set
    by seed): an ensemble can only be scored where every member made a prediction."""
    read = [evaluation.checked_predictions(run) for run in runs]
    shared = read[0][2]
    for _, _, indices in read[1:]:
        shared = np.intersect1d(shared, indices)
    if shared.size == 0:
        raise UserError(f"{runs[0].path}: the runs to average share no test image")
    stack, flipped, labels = [], [], None
    for run, (run_labels, probabilities, indices) in zip(runs, read):
        order = np.searchsorted(indices, shared, sorter=np.argsort(indices))
        positions = np.argsort(indices)[order]
        if labels is None:
            labels = run_labels[positions]
        elif not np.array_equal(labels, run_labels[positions]):
            raise UserError(f"{run.path / 'predictions.npz'}: labels differ from the other runs' for the same images")
        stack.append(probabilities[positions])
        mirrored = read_flipped(run, probabilities.shape)
        flipped.append(None if mirrored is None else mirrored[positions])
    has_flipped = all(item is not None for item in flipped)
    return labels, np.stack(stack), np.stack(flipped) if has_flipped else None


@dataclass
class EnsembleResult:
    """One model's ensemble measurements (see `ensemble_results`)."""

    model: str
    rows: list[dict]  # the single runs
    images: int
    single: list[float]  # each run's accuracy on the shared images
    methods: list[dict] = field(default_factory=list)  # name, members, views, accuracy, change


def ensemble_results(studies) -> list[EnsembleResult]:
    """Per model: the single runs, flip TTA, the seed ensemble and both together, each against the
    single runs on the test images every seed scored. A method's change pairs it with each single
    run; the pairing with the least gain stands for it (the most cautious)."""
    found = []
    for model in arms(studies, "ensembles"):
        rows = variant_rows(studies, "ensembles", model)
        if len(rows) < 2:
            continue
        labels, stack, flipped = aligned_members([studies.run(row) for row in rows])
        single = [float(np.mean(member.argmax(axis=1) == labels)) for member in stack]
        result = EnsembleResult(model, rows, int(labels.size), single)

        ensemble = ensembles.average_probabilities(stack)
        methods = [(f"ensemble of {len(stack)} seeds", len(stack), 1, ensemble)]
        if flipped is not None:
            tta = [ensembles.horizontal_flip_average(plain, mirrored) for plain, mirrored in zip(stack, flipped)]
            methods.insert(0, ("flip TTA", 1, 2, tta))
            both = ensembles.average_probabilities(np.concatenate([stack, flipped]))
            methods.append((f"ensemble of {len(stack)} seeds + flip TTA", len(stack), 2, both))
        for name, members, views, probabilities in methods:
            if isinstance(probabilities, list):
                accuracy = [float(np.mean(view.argmax(axis=1) == labels)) for view in probabilities]
            else:
                accuracy = [float(np.mean(probabilities.argmax(axis=1) == labels))]
            result.methods.append(
                {
                    "name": name,
                    "members": members,
                    "views": views,
                    "accuracy": accuracy,
                    "change": _least_gain(labels, probabilities, stack),
                    "cost": ensembles.inference_cost_multiplier(members, views),
                }
            )
        found.append(result)
    return found


def _least_gain(labels: np.ndarray, method, stack: np.ndarray) -> dict:
    """The method (one array, or one per run) paired with each single run; the least gain of them."""
    views = method if isinstance(method, list) else [method] * len(stack)
    gains = [_with_verdict(ensembles.paired_gain(labels, view, member)) for view, member in zip(views, stack)]
    return min(gains, key=lambda gain: gain["gain"])


# The studies' tables ------------------------------------------------------------------------------


def _time_cells(studies, rows: list[dict]) -> list:
    return [
        number([mean_epoch_seconds(studies.run(row).history) for row in rows], SECONDS),
        number([row["wall_seconds"] for row in rows], SECONDS),
    ]


def augmentation_table(studies, synthetic: bool) -> Table:
    """Per model and augmentation: accuracy, the change against no augmentation, compute and time."""
    rows = []
    for model in arms(studies, "augmentation"):
        baseline = variant_rows(studies, "augmentation", model, augmentation.VARIANTS[augmentation.NONE])
        for name in variants(studies, "augmentation", model):
            runs = variant_rows(studies, "augmentation", model, name)
            seeds_protocol = name == augmentation.VARIANTS[augmentation.NONE]
            change = None if seeds_protocol else paired_change(studies, runs, baseline)
            rows.append(
                [
                    label(model, short=True),
                    name,
                    number(len(runs), COUNT),
                    accuracy_cell(runs),
                    *change_cells(change),
                    number([row["epochs_run"] for row in runs], COUNT),
                    number([row["training_flops"] for row in runs], FLOPS),
                    *_time_cells(studies, runs),
                ]
            )
    return Table(
        "improvements-augmentation",
        "Test accuracy with each augmentation of the training split; the change is against the same model "
        "without augmentation (the seed's protocol), paired seed with seed on the same test images.",
        [
            "Model",
            "Augmentation",
            "Runs",
            "Test accuracy",
            *CHANGE_COLUMNS,
            "Epochs run",
            "Training FLOPs",
            "Wall time per epoch",
            "Wall time in all",
        ],
        rows,
        synthetic,
        align=["l", "l", *["r"] * 9],
    )


def backbones_table(studies, synthetic: bool) -> Table:
    """Per backbone: parameters, counted FLOPs, ImageNet top-1, CIFAR-10 accuracy and its change
    against ResNet50, time per epoch."""
    rows = []
    seed_rows = variant_rows(studies, "backbones", backbones.SEED_BACKBONE)
    for name in arms(studies, "backbones"):
        runs = variant_rows(studies, "backbones", name)
        entry = architectures.get(name)
        change = None if name == backbones.SEED_BACKBONE else paired_change(studies, runs, seed_rows)
        rows.append(
            [
                label(name, short=True),
                number(runs[0]["parameters"]["total"], COUNT),
                number(runs[0]["forward_flops_per_image"], FLOPS),
                number(entry.imagenet_top1, PERCENT) if entry.imagenet_top1 is not None else NOT_REPORTED,
                number(len(runs), COUNT),
                accuracy_cell(runs),
                *change_cells(change),
                *_time_cells(studies, runs),
            ]
        )
    return Table(
        "improvements-backbones",
        "Each backbone under the seed's head, optimiser and schedule: parameters as built, forward FLOPs per "
        "image as counted, ImageNet top-1 as its source states it, and test accuracy; the change is against "
        "ResNet50, paired seed with seed on the same test images.",
        [
            "Backbone",
            "Parameters",
            "Forward FLOPs per image",
            "ImageNet top-1",
            "Runs",
            "Test accuracy",
            *CHANGE_COLUMNS,
            "Wall time per epoch",
            "Wall time in all",
        ],
        rows,
        synthetic,
    )


def profile_upsampling(studies, row: dict) -> int:
    """The upsampling factor of the main runs of the row's profile: the resolution study's baseline."""
    run_config = studies.run(row).config
    return config.resolve(resolution.MODEL, run_config["profile"]).upsampling


def resolution_table(studies, synthetic: bool) -> Table:
    rows = []
    all_rows = variant_rows(studies, "resolution", resolution.MODEL)
    if not all_rows:
        return Table("improvements-resolution", "No resolution runs.", ["Input size"], [], synthetic)
    own = profile_upsampling(studies, all_rows[0])
    baseline = variant_rows(studies, "resolution", resolution.MODEL, resolution.variant(own))
    for name in sorted(variants(studies, "resolution", resolution.MODEL), key=lambda text: int(text.split()[0])):
        runs = variant_rows(studies, "resolution", resolution.MODEL, name)
        change = None if name == resolution.variant(own) else paired_change(studies, runs, baseline)
        rows.append(
            [
                name + (" (the main runs')" if name == resolution.variant(own) else ""),
                number(len(runs), COUNT),
                accuracy_cell(runs),
                *change_cells(change),
                number(runs[0]["forward_flops_per_image"], FLOPS),
                number([row["training_flops"] for row in runs], FLOPS),
                *_time_cells(studies, runs),
            ]
        )
    return Table(
        "improvements-resolution",
        f"ResNet50 at each input size (the 32 px images upsampled); the change is against {32 * own} px, the "
        "size of this profile's main runs, paired seed with seed on the same test images.",
        [
            "Input size",
            "Runs",
            "Test accuracy",
            *CHANGE_COLUMNS,
            "Forward FLOPs per image",
            "Training FLOPs",
            "Wall time per epoch",
            "Wall time in all",
        ],
        rows,
        synthetic,
    )


def ensembles_table(studies, synthetic: bool) -> Table:
    rows = []
    for result in ensemble_results(studies):
        rows.append(
            [
                label(result.model, short=True),
                f"single run (each of {len(result.rows)})",
                number(result.single, PERCENT),
                *change_cells(None),
                number(1, RATIO),
                number(result.images, COUNT),
            ]
        )
        for method in result.methods:
            rows.append(
                [
                    label(result.model, short=True),
                    method["name"],
                    number(method["accuracy"], PERCENT),
                    *change_cells(method["change"]),
                    number(method["cost"], RATIO),
                    number(result.images, COUNT),
                ]
            )
    return Table(
        "improvements-ensembles",
        "Seed ensembles and horizontal-flip test-time augmentation (flip TTA) against the single runs, on the test images "
        "every seed scored; the change pairs the method with each single run and shows the least gain; inference "
        "cost in forward passes per image, relative to one run.",
        ["Model", "Method", "Test accuracy", *CHANGE_COLUMNS, "Inference cost", "Test images"],
        rows,
        synthetic,
        align=["l", "l", *["r"] * 6],
    )


def gap_closed(teacher: list[dict], alone: list[dict], student: list[dict]) -> float | None:
    """The share of the teacher's lead over the CNN trained alone that the student recovers (None
    when the teacher does not lead: there is no gap to close)."""
    lead = mean_of(teacher, "test_accuracy") - mean_of(alone, "test_accuracy")
    if lead <= 0:
        return None
    return (mean_of(student, "test_accuracy") - mean_of(alone, "test_accuracy")) / lead


def distillation_table(studies, synthetic: bool) -> Table:
    teacher = variant_rows(studies, "distillation", distillation.TEACHER)
    alone = variant_rows(studies, "distillation", distillation.STUDENT, distillation.ALONE)
    student = variant_rows(studies, "distillation", distillation.STUDENT, distillation.DISTILLED)
    rows = []
    closed = gap_closed(teacher, alone, student) if teacher and alone and student else None
    for name, runs, change in (
        ("ResNet50, the teacher", teacher, paired_change(studies, teacher, alone) if alone else None),
        ("CNN trained alone (the seed's)", alone, None),
        ("CNN distilled from ResNet50", student, paired_change(studies, student, alone) if alone else None),
    ):
        if not runs:
            continue
        rows.append(
            [
                name,
                number(len(runs), COUNT),
                accuracy_cell(runs),
                *change_cells(change),
                number(closed, PERCENT) if runs is student and closed is not None else NOT_REPORTED,
                number(runs[0]["parameters"]["total"], COUNT),
                number(runs[0]["forward_flops_per_image"], FLOPS),
                number([row["training_flops"] for row in runs], FLOPS),
                number([row["wall_seconds"] for row in runs], SECONDS),
            ]
        )
    return Table(
        "improvements-distillation",
        "The CNN trained with the main runs' ResNet50 of the same seed as its teacher, beside both trained as the seed did; the "
        "change is against the CNN trained alone, paired seed with seed; the gap closed is the student's gain "
        "as a share of the teacher's lead; inference cost as parameters and counted forward FLOPs per image.",
        [
            "Model",
            "Runs",
            "Test accuracy",
            *CHANGE_COLUMNS,
            "Gap closed",
            "Parameters",
            "Forward FLOPs per image",
            "Training FLOPs",
            "Wall time in all",
        ],
        rows,
        synthetic,
    )


def chosen_rates(studies) -> dict[str, float]:
    """Per model, the rate whose runs have the highest mean validation accuracy (ties: the lower
    rate). The test set plays no part in the choice."""
    chosen = {}
    for model in arms(studies, "learning-rate"):
        by_rate = _rates(studies, model)
        chosen[model] = max(by_rate, key=lambda rate: (mean_of(by_rate[rate], "val_accuracy"), -rate))
    return chosen


def _rates(studies, model: str) -> dict[float, list[dict]]:
    by_rate: dict[float, list[dict]] = {}
    for row in variant_rows(studies, "learning-rate", model):
        by_rate.setdefault(float(studies.run(row).config["learning_rate"]), []).append(row)
    return dict(sorted(by_rate.items()))


def learning_rate_table(studies, synthetic: bool) -> Table:
    """Validation accuracy at every rate; test accuracy, and its change against the seed's rate, only
    for the rate chosen on validation."""
    rows = []
    chosen = chosen_rates(studies)
    for model in arms(studies, "learning-rate"):
        by_rate = _rates(studies, model)
        seed_rate = config.paper_config(model).learning_rate
        for rate, runs in by_rate.items():
            picked = rate == chosen[model]
            change = (
                paired_change(studies, runs, by_rate[seed_rate])
                if picked and rate != seed_rate and seed_rate in by_rate
                else None
            )
            rows.append(
                [
                    label(model, short=True),
                    number(rate, RATE),
                    "the seed's" if rate == seed_rate else "",
                    number(len(runs), COUNT),
                    number([row["val_accuracy"] for row in runs], PERCENT),
                    "chosen" if picked else "",
                    accuracy_cell(runs) if picked else NOT_READ,
                    *change_cells(change),
                ]
            )
    return Table(
        "improvements-learning-rate",
        "Validation accuracy at each initial learning rate; each model's rate is chosen on it alone, and only "
        "the chosen rate's test accuracy is read; the change is against the seed's rate, 0.01.",
        ["Model", "Learning rate", "Seed's", "Runs", "Validation accuracy", "Chosen", "Test accuracy", *CHANGE_COLUMNS],
        rows,
        synthetic,
        align=["l", "r", "l", "r", "r", "l", "r", "r", "r", "r"],
    )


# The Improvements page's summary ----------------------------------------------------------------------


@dataclass
class Entry:
    """One line of the summary: an improvement (or the seed's protocol) for one model."""

    improvement: str
    model: str  # an arm: its colour and label
    accuracy: list[float]  # per run (one value for an ensemble)
    runs: int
    change: dict | None  # paired_change against the seed's protocol; None for the protocol itself
    training_flops: float | None  # the compute behind one result (summed over an ensemble's members)
    training_seconds: float | None
    inference_flops: float | None  # per test image
    images: int = 0
    baseline: bool = False

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracy))

    @property
    def subject(self) -> str:
        """The entry as a sentence names it: "Augmentation with MixUp for the CNN"."""
        if self.model != backbones.SEED_BACKBONE and self.model not in SEED_MODELS:
            return f"{label(self.model, short=True)} in place of ResNet50"
        text = f"{self.improvement} for {'the ' if self.model == 'cnn' else ''}{label(self.model, short=True)}"
        return text[0].upper() + text[1:]


def _entry(improvement: str, model: str, runs: list[dict], change, baseline: bool = False) -> Entry:
    return Entry(
        improvement,
        model,
        [row["test_accuracy"] for row in runs],
        len(runs),
        change,
        mean_of(runs, "training_flops"),
        mean_of(runs, "wall_seconds"),
        float(runs[0]["forward_flops_per_image"]),
        change["images"] if change else 0,
        baseline,
    )


def summary_entries(studies) -> list[Entry]:
    """The seed's protocol per model, then every improvement that ran, each against the seed's
    protocol in its own study (the main runs, copied there: the same seeds and test images)."""
    if studies is None:
        return []
    entries: list[Entry] = []
    ran = set(studies.summaries)

    def baseline(model: str, runs: list[dict]) -> None:
        if runs and not any(entry.baseline and entry.model == model for entry in entries):
            entries.append(_entry("the seed's protocol", model, runs, None, baseline=True))

    if "augmentation" in ran:
        none = augmentation.VARIANTS[augmentation.NONE]
        for model in arms(studies, "augmentation"):
            base = variant_rows(studies, "augmentation", model, none)
            baseline(model, base)
            for name in variants(studies, "augmentation", model):
                if name != none:
                    runs = variant_rows(studies, "augmentation", model, name)
                    entries.append(_entry(f"augmentation with {name}", model, runs, paired_change(studies, runs, base)))
    if "backbones" in ran:
        base = variant_rows(studies, "backbones", backbones.SEED_BACKBONE)
        baseline(backbones.SEED_BACKBONE, base)
        for name in arms(studies, "backbones"):
            if name != backbones.SEED_BACKBONE:
                runs = variant_rows(studies, "backbones", name)
                entries.append(
                    _entry(f"backbone {label(name, short=True)}", name, runs, paired_change(studies, runs, base))
                )
    if "resolution" in ran:
        rows = variant_rows(studies, "resolution", resolution.MODEL)
        own = resolution.variant(profile_upsampling(studies, rows[0]))
        base = variant_rows(studies, "resolution", resolution.MODEL, own)
        baseline(resolution.MODEL, base)
        for name in variants(studies, "resolution", resolution.MODEL):
            if name != own:
                runs = variant_rows(studies, "resolution", resolution.MODEL, name)
                entries.append(_entry(f"input size {name}", resolution.MODEL, runs, paired_change(studies, runs, base)))
    if "ensembles" in ran:
        for result in ensemble_results(studies):
            baseline(result.model, result.rows)
            flops = mean_of(result.rows, "training_flops")
            seconds = mean_of(result.rows, "wall_seconds")
            forward = float(result.rows[0]["forward_flops_per_image"])
            for method in result.methods:
                entries.append(
                    Entry(
                        method["name"],
                        result.model,
                        method["accuracy"],
                        len(result.rows) if method["members"] > 1 else len(method["accuracy"]),
                        method["change"],
                        flops * method["members"],
                        seconds * method["members"],
                        forward * method["cost"],
                        result.images,
                    )
                )
    if "distillation" in ran:
        alone = variant_rows(studies, "distillation", distillation.STUDENT, distillation.ALONE)
        student = variant_rows(studies, "distillation", distillation.STUDENT, distillation.DISTILLED)
        baseline(distillation.STUDENT, alone)
        if student:
            entries.append(
                _entry(
                    "distillation from ResNet50", distillation.STUDENT, student, paired_change(studies, student, alone)
                )
            )
    if "learning-rate" in ran:
        for model, rate in chosen_rates(studies).items():
            by_rate = _rates(studies, model)
            seed_rate = config.paper_config(model).learning_rate
            baseline(model, by_rate.get(seed_rate, []))
            if rate != seed_rate and seed_rate in by_rate:
                entries.append(
                    _entry(
                        f"learning rate {rate:g} (chosen)",
                        model,
                        by_rate[rate],
                        paired_change(studies, by_rate[rate], by_rate[seed_rate]),
                    )
                )
    order = {model: index for index, model in enumerate(architectures.ARCHITECTURES)}
    return sorted(entries, key=lambda entry: (order.get(entry.model, 99), not entry.baseline))


def summary_table(entries: list[Entry], synthetic: bool) -> Table:
    base = {entry.model: entry for entry in entries if entry.baseline}
    rows = []
    for entry in entries:
        reference = base.get(entry.model) or base.get(config.SEED_MODELS[0])
        ratio = (
            entry.training_flops / reference.training_flops
            if reference and entry.training_flops and reference.training_flops
            else None
        )
        rows.append(
            [
                entry.improvement,
                label(entry.model, short=True),
                number(entry.accuracy, PERCENT),
                number(entry.runs, COUNT),
                *change_cells(entry.change),
                number(entry.training_flops, FLOPS) if entry.training_flops else NOT_REPORTED,
                number(ratio, RATIO) if ratio is not None else NOT_REPORTED,
                number(entry.training_seconds, SECONDS) if entry.training_seconds is not None else NOT_REPORTED,
                number(entry.inference_flops, FLOPS) if entry.inference_flops else NOT_REPORTED,
            ]
        )
    return Table(
        "improvements",
        "Each improvement against the seed's protocol for the same model: test accuracy, the paired change with "
        "its exact 95 % interval and McNemar's test, training compute (counted FLOPs, also as a multiple of the "
        "seed's protocol for that model; summed over an ensemble's runs) with the measured wall time, and the "
        "counted FLOPs of one prediction.",
        [
            "Improvement",
            "Model",
            "Test accuracy",
            "Runs",
            *CHANGE_COLUMNS,
            "Training FLOPs",
            "Training compute vs the seed's",
            "Wall time",
            "Inference FLOPs per image",
        ],
        rows,
        synthetic,
        align=["l", "l", *["r"] * 9],
    )


def pareto_points(entries: list[Entry]) -> dict:
    """The figure's points (one per entry with its training compute) and which lie on the front."""
    points = [entry for entry in entries if entry.training_flops]
    if not points:
        return {"points": [], "front": []}
    front = ensembles.pareto_front([entry.training_flops for entry in points], [entry.mean for entry in points])
    return {
        "points": [
            {
                "label": f"{label(entry.model, short=True)}, {entry.improvement}",
                "model": entry.model,
                "flops": entry.training_flops,
                "accuracy": entry.mean,
                "baseline": entry.baseline,
            }
            for entry in points
        ],
        "front": front,
    }


# Sentences ------------------------------------------------------------------------------------------


def _signed(value: float) -> str:
    return f"{value * 100:+.1f} pp"


def findings(
    entries: list[Entry], ran: list[str], synthetic: bool, ceilings: dict[str, dict] | None = None
) -> list[str]:
    """What a careful author would say of the summary: what helped, by how much, at what cost, what
    could not be told apart from no change, what was not run, and where each seed model's best
    result stands against the best published result of its kind (`ceilings`: per model, the
    published entry's model, accuracy and high end; said only of CIFAR-10 runs)."""
    sentences = []
    if synthetic:
        sentences.append(
            "These runs trained and tested on synthetic images: the changes below show that each study runs end to "
            "end, and say nothing about CIFAR-10."
        )
    base = {entry.model: entry for entry in entries if entry.baseline}
    improvements = [entry for entry in entries if not entry.baseline and entry.change]
    helped = [entry for entry in improvements if entry.change["significant"] and entry.change["gain"] > 0]
    hurt = [entry for entry in improvements if entry.change["significant"] and entry.change["gain"] < 0]
    unclear = [entry for entry in improvements if not entry.change["significant"]]
    chance = [entry for entry in improvements if entry.change["at_chance"]]
    if chance:
        named = _names(chance)
        sentences.append(
            f"{named[0].upper() + named[1:]}: both the change and the seed's protocol score at chance on these test images, so "
            "no change can be read from them."
        )
    for entry in sorted(helped, key=lambda entry: -entry.change["gain"]):
        if entry in chance:
            continue
        reference = base.get(entry.model) or base.get(backbones.SEED_BACKBONE)  # a backbone: against ResNet50
        cost = ""
        if reference and entry.training_flops and reference.training_flops:
            cost = f", at {_times(entry.training_flops / reference.training_flops, 'training compute')}"
        if reference and entry.inference_flops and reference.inference_flops:
            cost += f" and {_times(entry.inference_flops / reference.inference_flops, 'inference cost')}"
        sentences.append(
            f"{_name(entry)} raised test accuracy by {_signed(entry.change['gain'])} (95 % interval "
            f"{_signed(entry.change['lower'])} to {_signed(entry.change['upper'])}, {format_p_clause(entry.change['p_value'])}"
            f", on {entry.change['images']:,} paired test images){cost}."
        )
    for entry in hurt:
        if entry not in chance:
            sentences.append(
                f"{_name(entry)} lowered test accuracy by {_signed(-entry.change['gain'])[1:]} "
                f"({format_p_clause(entry.change['p_value'])})."
            )
    if unclear:
        remaining = [entry for entry in unclear if entry not in chance]
        if remaining:
            sentences.append(
                f"The paired test cannot tell {_names(remaining)} from the seed's protocol "
                f"(each p ≥ {SIGNIFICANCE_LEVEL:g})."
            )
    if improvements and not helped:
        sentences.append("No improvement that ran made a difference the paired test can detect.")
    not_run = [study for study in IMPROVEMENT_STUDIES if study not in ran]
    if not_run:
        sentences.append(f"Not run: {', '.join(not_run)}.")
    for model, ceiling in (ceilings or {}).items():
        ours = [entry for entry in entries if entry.model == model]
        if synthetic or not ours:
            continue
        best = max(ours, key=lambda entry: entry.mean)
        high = ceiling.get("accuracy_high") or ceiling["accuracy"]
        published = f"{ceiling['accuracy'] * 100:.1f}" + (
            f" to {high * 100:.1f} %" if high != ceiling["accuracy"] else " %"
        )
        if best.mean < ceiling["accuracy"]:
            standing = f"is {(ceiling['accuracy'] - best.mean) * 100:.1f} pp below"
        else:
            standing = "reaches"
        sentences.append(
            f"{label(model, short=True)}'s best result here, {best.improvement} at {best.mean * 100:.2f} %, {standing} "
            f"the best published result listed for its kind, {published} ({ceiling['model']}), which its authors "
            "reached under a protocol of their own."
        )
    return sentences


def _times(ratio: float, what: str) -> str:
    """A cost ratio in words: "the same training compute", "2.0 times the training compute"."""
    return f"the same {what}" if abs(ratio - 1) < 0.005 else f"{ratio:.2g} times the {what}"


def _name(entry: Entry) -> str:
    return entry.subject


def _names(entries: list[Entry]) -> str:
    names = [
        entry.subject[0].lower() + entry.subject[1:] if entry.model in SEED_MODELS else entry.subject
        for entry in entries
    ]
    return names[0] if len(names) == 1 else "; ".join(names[:-1]) + " and " + names[-1]
