"""Hand-built run directories in the exact results contract (see cifarcmp/results.py).

Written with numpy and json only, so report and site tests run in milliseconds without
TensorFlow, and so a test can dictate the numbers (for example a run where the CNN wins).

    write_fixture_run(tmp_path / "resnet50" / "seed-0", "resnet50", test_accuracy=0.9)
    write_fixture_run(path, "cnn", correct=mask, gallery=True)  # exactly these images right
    write_fixture_seeds(tmp_path, "cnn", [0.70, 0.72, 0.74])  # seed-0, seed-1, seed-2
    build_site(results, tmp_path / "copy")  # render them and build the site, as `make site` does
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cifarcmp import stats
from cifarcmp.config import resolve
from cifarcmp.paths import PROJECT_ROOT
from cifarcmp.report.render import render
from cifarcmp.results import find_runs, write_run

_FORWARD_FLOPS = {"resnet50": 7_727_692_298, "cnn": 41_569_546}
_TRAIN_IMAGES = 4500

CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]

# The seed's two architectures as a summary.json would list them; parameter counts are the ones
# Keras reports for the seed's models (26,215,818 and 1,250,858 in total).
_LAYERS = {
    "resnet50": [
        ("input", "InputLayer", "(None, 32, 32, 3)", 0, True),
        ("upsampling", "UpSampling2D", "(None, 224, 224, 3)", 0, True),
        ("resnet50", "Functional", "(None, 7, 7, 2048)", 23_587_712, True),
        ("global_pool", "GlobalAveragePooling2D", "(None, 2048)", 0, True),
        ("dense_1024", "Dense", "(None, 1024)", 2_098_176, True),
        ("dense_512", "Dense", "(None, 512)", 524_800, True),
        ("classifier", "Dense", "(None, 10)", 5_130, True),
    ],
    "cnn": [
        ("input", "InputLayer", "(None, 32, 32, 3)", 0, True),
        ("conv_1a", "Conv2D", "(None, 32, 32, 32)", 896, True),
        ("conv_1b", "Conv2D", "(None, 30, 30, 32)", 9_248, True),
        ("pool_1", "MaxPooling2D", "(None, 15, 15, 32)", 0, True),
        ("dropout_1", "Dropout", "(None, 15, 15, 32)", 0, True),
        ("conv_2a", "Conv2D", "(None, 15, 15, 64)", 18_496, True),
        ("conv_2b", "Conv2D", "(None, 13, 13, 64)", 36_928, True),
        ("pool_2", "MaxPooling2D", "(None, 6, 6, 64)", 0, True),
        ("dropout_2", "Dropout", "(None, 6, 6, 64)", 0, True),
        ("flatten", "Flatten", "(None, 2304)", 0, True),
        ("dense_512", "Dense", "(None, 512)", 1_180_160, True),
        ("dropout_3", "Dropout", "(None, 512)", 0, True),
        ("classifier", "Dense", "(None, 10)", 5_130, True),
    ],
}
# BatchNormalization moving statistics inside ResNet50: counted, never trained.
_NON_TRAINABLE = {"resnet50": 53_120, "cnn": 0}
_DEFAULT_ACCURACY = {"resnet50": 0.90, "cnn": 0.70}
GALLERY_SIZE = 24  # as cifarcmp.train writes


def write_fixture_results(root: Path) -> Path:
    """One fixture run of each seed model, seed 0, under `root`/<model>/seed-0/; returns `root`."""
    write_fixture_run(root / "resnet50" / "seed-0", "resnet50")
    write_fixture_run(root / "cnn" / "seed-0", "cnn")
    return root


def write_fixture_run(
    path: Path | str,
    model: str,
    test_accuracy: float | None = None,
    synthetic: bool = True,
    seed: int = 0,
    epochs: int | None = None,
    best_epoch: int | None = None,
    overfit_gap: float = 0.05,
    test_images: int = 200,
    correct=None,
    gallery: bool = False,
    index_offset: int = 0,
    changes: dict | None = None,
    flipped: bool = False,
) -> Path:
    """Write a finished run of `model` into `path` (created) and return `path`.

    `test_accuracy` is a fraction (0..1); the validation accuracy at the best epoch sits one
    point above it and the training accuracy `overfit_gap` above that. `best_epoch` defaults to
    the last epoch (ResNet50) or four before it (the CNN, which then stops early).

    `correct` (booleans, one per test image) says exactly which images the model gets right, for
    paired tests; it then sets the test accuracy. Otherwise a seeded draw picks
    `test_accuracy` of them, the same draw for every model of the same seed. `gallery` also
    writes gallery.npz; `index_offset` shifts the test indices, as if another test subset was used.
    `changes` are RunConfig fields a study changes (learning_rate, upsampling); `flipped` also
    stores probabilities on the mirrored test images (flipped_probabilities), as training now does.
    Models other than the seed's two (the backbones) get ResNet50's layers and counts.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if correct is not None:
        correct = np.asarray(correct, dtype=bool)
        test_images = correct.size
        test_accuracy = float(correct.mean())
    test_accuracy = _DEFAULT_ACCURACY.get(model, 0.9) if test_accuracy is None else test_accuracy
    profile = "smoke" if synthetic else "paper"
    config = resolve(model, profile, seed=seed, epochs=epochs, **(changes or {})).to_dict()
    epochs = config["epochs"]
    stops_early = config["early_stopping_patience"] > 0 and epochs > 4
    if best_epoch is None:
        # Four before the end, so patience 3 stops training one epoch short of the maximum.
        best_epoch = max(1, epochs - 4) if stops_early else epochs
    epochs_run = min(epochs, best_epoch + config["early_stopping_patience"]) if stops_early else epochs

    history = _history(config, epochs_run, best_epoch, test_accuracy, overfit_gap, seed)
    best = history[best_epoch - 1]
    test_per_class = max(1, test_images // 10)
    counts = {
        "train": [450 if synthetic else 4500] * 10,
        "validation": [50 if synthetic else 500] * 10,
        "test": [test_per_class] * 10,
    }
    labels = np.repeat(np.arange(10), test_per_class).astype(np.int64)
    if correct is not None and correct.size != labels.size:
        raise ValueError(f"correct needs {labels.size} entries (10 classes x {test_per_class}), got {correct.size}")
    probabilities = _probabilities(labels, test_accuracy, rng, correct)
    layers = _LAYERS.get(model, _LAYERS["resnet50"])
    total = sum(layer[3] for layer in layers)
    non_trainable = _NON_TRAINABLE.get(model, _NON_TRAINABLE["resnet50"])
    forward_flops = _FORWARD_FLOPS.get(model, _FORWARD_FLOPS["resnet50"])
    wall_seconds = sum(row["seconds"] for row in history) + 12.5

    (path / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    manifest = {
        "schema_version": 1,
        "status": "complete",
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
        "versions": {
            "python": "3.11.2",
            "keras": "3.15.1",
            "backend": "tensorflow",
            "tensorflow": "2.21.0",
            "numpy": "2.1.0",
        },
        "device": {"kind": "cpu", "name": "fixture CPU"},
        "started_at": "2025-01-02T03:04:05+00:00",
        "finished_at": "2025-01-02T04:05:06+00:00",
        "data": {
            "source": "synthetic" if synthetic else "cifar10",
            "synthetic": synthetic,
            "sha256": "ab" * 32,
            "verified": not synthetic,
            "description": "fixture data written by tests/fixtures.py",
            "class_names": CLASS_NAMES,
            "counts": counts,
        },
    }
    summary = {
        "name": model,
        "total_params": total,
        "trainable_params": total - non_trainable,
        "non_trainable_params": non_trainable,
        "layers": [
            {"name": name, "type": kind, "output_shape": shape, "params": params, "trainable": trainable}
            for name, kind, shape, params, trainable in layers
        ],
    }
    metrics = {
        "schema_version": 1,
        "train_accuracy": best["accuracy"],
        "train_loss": best["loss"],
        "val_accuracy": best["val_accuracy"],
        "val_loss": best["val_loss"],
        "test_accuracy": test_accuracy,
        "test_loss": round(1.5 * (1.0 - test_accuracy) + 0.05, 4),
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < epochs,
        "wall_seconds": wall_seconds,
        "train_seconds": wall_seconds - 10.0,
        "train_images_per_second": 123.4,
        "test_images": int(labels.size),
        "parameters": {"total": total, "trainable": total - non_trainable, "non_trainable": non_trainable},
        # The counts cifarcmp.compute gives the seed's models at 224 px and 32 px.
        "compute": {
            "forward_flops_per_image": forward_flops,
            "training_flops": 3.0 * forward_flops * _TRAIN_IMAGES * epochs_run,
            "counted": "fixture",
        },
    }
    indices = np.arange(labels.size, dtype=np.int64) + index_offset
    sample_labels = np.repeat(np.arange(10), 2).astype(np.int64)
    images = rng.integers(0, 256, size=(sample_labels.size, 32, 32, 3), dtype=np.uint8)
    arrays = {
        "predictions.npz": {"labels": labels, "probabilities": probabilities, "indices": indices}
        | ({"flipped_probabilities": _probabilities(labels, test_accuracy, rng)} if flipped else {}),
        "samples.npz": {"images": images, "labels": sample_labels},
    }
    if gallery:
        # As training writes it: the most confident mistakes, with their test images.
        mistakes = stats.most_confident_mistakes(probabilities, labels, GALLERY_SIZE)
        arrays["gallery.npz"] = {
            "images": rng.integers(0, 256, size=(mistakes.size, 32, 32, 3), dtype=np.uint8),
            "indices": indices[mistakes],
            "labels": labels[mistakes],
            "predicted": probabilities[mistakes].argmax(axis=1),
            "confidence": probabilities[mistakes].max(axis=1),
        }
    # The package's one writer of a run, as training uses it.
    write_run(path, summary=summary, history=history, metrics=metrics, arrays=arrays, manifest=manifest)
    return path


def write_fixture_seeds(root: Path | str, model: str, accuracies: list[float], **options) -> list[Path]:
    """One run of `model` per test accuracy, as `root/<model>/seed-0`, `seed-1`, ..."""
    return [
        write_fixture_run(Path(root) / model / f"seed-{seed}", model, test_accuracy=accuracy, seed=seed, **options)
        for seed, accuracy in enumerate(accuracies)
    ]


def _history(config, epochs_run, best_epoch, test_accuracy, overfit_gap, seed) -> list[dict]:
    """Curves that rise to `best_epoch`, where validation loss is lowest, and drift after it."""
    target_val = min(0.999, test_accuracy + 0.01)
    rows = []
    for epoch in range(1, epochs_run + 1):
        progress = min(1.0, epoch / best_epoch)
        after = max(0, epoch - best_epoch)
        val_accuracy = target_val * (0.55 + 0.45 * progress) - 0.004 * after
        accuracy = min(0.999, val_accuracy + overfit_gap * progress + 0.01 * after)
        rows.append(
            {
                "epoch": epoch,
                "loss": round(2.0 * (1.0 - accuracy) + 0.02, 6),
                "accuracy": round(accuracy, 6),
                "val_loss": round(2.0 * (1.0 - target_val) + 0.6 * (1.0 - progress) + 0.03 * after + 0.05, 6),
                "val_accuracy": round(val_accuracy, 6),
                "learning_rate": config["lr_schedule"][epoch - 1],
                "seconds": 10.0 + seed,
            }
        )
    return rows


def _probabilities(labels, accuracy, rng, correct=None) -> np.ndarray:
    """Softmax-like rows whose arg-max is right on `correct`, else for `accuracy` of the images."""
    count = labels.size
    probabilities = rng.random((count, 10)).astype(np.float32) * 0.1
    if correct is None:
        correct = np.zeros(count, dtype=bool)
        correct[rng.permutation(count)[: round(accuracy * count)]] = True
    predicted = np.where(correct, labels, (labels + 1) % 10)
    probabilities[np.arange(count), predicted] += 1.0
    return probabilities / probabilities.sum(axis=1, keepdims=True)


# The study arms' models, and counted training FLOPs per training image and epoch (about as
# train/compute.py counts them at 32 px).
ARM_MODELS = {"resnet50-frozen": "resnet50", "resnet50-random": "resnet50"}  # else the arm is the model
FLOPS_PER_IMAGE_EPOCH = {"resnet50": 4.9e8, "cnn": 1.25e8}


def write_fixture_study(root: Path, study: str, specs: list[dict]) -> None:
    """Runs of `specs` (arm, fraction, seed, and write_fixture_run options) and the study's summary.

    A spec may also give the row's `variant` and the run's folder (`relative` to `root`); without
    one, a folder of its own is made from the study, arm, variant and seed."""
    rows = []
    for spec in specs:
        spec = dict(spec)
        arm, fraction, seed = spec.pop("arm"), spec.pop("fraction", 1.0), spec.pop("seed", 0)
        flops = spec.pop("training_flops", None)
        variant = spec.pop("variant", None)
        relative = spec.pop("relative", None)
        if relative is None and variant is not None:
            slug = "".join(
                character if character.isalnum() or character == "." else "-" for character in variant.lower()
            )
            relative = f"{study}/{arm}/{slug.strip('-') or 'own'}/seed-{seed}"
        elif relative is None:
            relative = (
                f"arms/{arm}/seed-{seed}" if fraction == 1 else f"{study}/{arm}/fraction-{fraction:g}/seed-{seed}"
            )
        if not (root / relative / "manifest.json").is_file():
            write_fixture_run(root / relative, ARM_MODELS.get(arm, arm), seed=seed, **spec)
        metrics = json.loads((root / relative / "metrics.json").read_text())
        train_images = round(4500 * fraction)
        rows.append(
            {
                "arm": arm,
                "fraction": fraction,
                "seed": seed,
                "run": relative,
                **({"variant": variant} if variant is not None else {}),
                **{
                    key: metrics[key]
                    for key in (
                        "test_accuracy",
                        "test_loss",
                        "val_accuracy",
                        "train_accuracy",
                        "epochs_run",
                        "best_epoch",
                        "train_seconds",
                        "wall_seconds",
                        "train_images_per_second",
                        "parameters",
                    )
                },
                "train_images": train_images,
                "forward_flops_per_image": 1.6e8,
                "training_flops": flops
                or FLOPS_PER_IMAGE_EPOCH.get(ARM_MODELS.get(arm, arm), 4.9e8) * train_images * metrics["epochs_run"],
                "device": {"kind": "cpu", "name": "fixture CPU", "count": 2},
                "synthetic": True,
            }
        )
    if study == "ensembles":
        for row in rows:
            with np.load(root / row["run"] / "predictions.npz") as arrays:
                row["has_flipped"] = "flipped_probabilities" in arrays.files
    if study == "gradcam":
        rows = [
            {
                "arm": row["arm"],
                "seed": row["seed"],
                "run": row["run"],
                "synthetic": True,
                "has_gradcam": (root / row["run"] / "gradcam.npz").is_file(),
            }
            for row in rows
        ]
    (root / study).mkdir(parents=True, exist_ok=True)
    (root / study / "summary.json").write_text(
        json.dumps({"schema_version": 1, "study": study, "profile": "smoke", "synthetic": True, "runs": rows}, indent=2)
    )


def build_site(results: Path, root: Path, site_url: str | None = None) -> dict:
    """Render `results` and run `mkdocs build --strict` in a scratch copy of the site sources
    under `root`; `site_url` as the Pages workflow sets SITE_URL."""
    shutil.copytree(PROJECT_ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns("generated"))
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", root / "mkdocs.yml")
    # mkdocs.yml names its hooks by a path relative to itself.
    (root / "cifarcmp").symlink_to(PROJECT_ROOT / "cifarcmp")
    runs = {}
    for run in find_runs(results):
        runs.setdefault(json.loads((run / "config.json").read_text())["model"], run)
    render(results, root / "docs" / "generated")
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    environment.pop("SITE_URL", None)
    if site_url:
        environment["SITE_URL"] = site_url
    started = time.monotonic()
    # The site is built from the rendering alone: the results (and the studies beside them) are out
    # of reach while mkdocs runs the pages, so a page that read them would fail the build.
    inputs = [folder for folder in (results, results.parent / f"studies-{results.name}") if folder.is_dir()]
    hidden = [folder.with_name(f".{folder.name}.hidden-during-build") for folder in inputs]
    for folder, away in zip(inputs, hidden):
        folder.rename(away)
    try:
        # cwd = the copy's root, as `make site` runs from the project root: snippets and the
        # notebook pages find docs/generated/ from there.
        build = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(root / "site")],
            cwd=root,
            capture_output=True,
            text=True,
            env=environment,
        )
    finally:
        for folder, away in zip(inputs, hidden):
            away.rename(folder)
    seconds = time.monotonic() - started
    assert build.returncode == 0, build.stderr[-4000:]
    return {"root": root, "site": root / "site", "runs": runs, "build_seconds": seconds}


def write_improvement_studies(root: Path, seeds: tuple[int, ...] = (0, 1), flipped: bool = True) -> Path:
    """Every improvement study's runs and summary under `root` (results/studies-<tag>/), as the
    smoke plan lays them out: the seed's protocol of each study (ResNet50 at 0.90, the CNN at 0.70)
    and changes whose accuracies the tests can check (flip and crop lifts the CNN to 0.80, a 64 px
    ResNet50 falls to 0.85, lr 0.003 wins the CNN's validation). `flipped` stores mirrored-image
    predictions in the ensembles' runs."""
    base = {"resnet50": 0.90, "cnn": 0.70}

    def seeds_of(arm: str, variant: str, accuracy: float, **options) -> list[dict]:
        return [{"arm": arm, "variant": variant, "seed": seed, "test_accuracy": accuracy, **options} for seed in seeds]

    write_fixture_study(
        root,
        "augmentation",
        [
            spec
            for model in ("resnet50", "cnn")
            for variant, accuracy in (
                ("none (the seed's)", base[model]),
                ("flip and crop", base[model] + 0.10 if model == "cnn" else base[model]),
                ("MixUp", base[model] - 0.02),
            )
            for spec in seeds_of(model, variant, accuracy)
        ],
    )
    write_fixture_study(root, "backbones", [*seeds_of("resnet50", "", 0.90), *seeds_of("mobilenetv3large", "", 0.92)])
    write_fixture_study(
        root,
        "resolution",
        [
            *seeds_of("resnet50", "32 px", 0.90, changes={"upsampling": 1}),
            *seeds_of("resnet50", "64 px", 0.85, changes={"upsampling": 2}),
        ],
    )
    write_fixture_study(
        root,
        "ensembles",
        [spec for model in ("resnet50", "cnn") for spec in seeds_of(model, "", base[model], flipped=flipped)],
    )
    write_fixture_study(
        root,
        "distillation",
        [
            *seeds_of("resnet50", "trained alone (the seed's)", 0.90),
            *seeds_of("cnn", "trained alone (the seed's)", 0.70),
            *seeds_of("cnn", "distilled from ResNet50", 0.78),
        ],
    )
    # Validation accuracy sits one point above the test accuracy (write_fixture_run): the CNN's best
    # validation rate is 0.003, ResNet50's the seed's 0.01.
    write_fixture_study(
        root,
        "learning-rate",
        [
            spec
            for model, accuracies in (("resnet50", (0.80, 0.90, 0.60)), ("cnn", (0.75, 0.70, 0.40)))
            for rate, accuracy in zip((0.003, 0.01, 0.1), accuracies)
            for spec in seeds_of(model, f"lr {rate:g}", accuracy, changes={"learning_rate": rate})
        ],
    )
    return root
