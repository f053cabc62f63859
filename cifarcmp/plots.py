"""The report's figures, as functions of arrays.

Each function returns a `matplotlib.figure.Figure` built without pyplot: no global state, no
backend to choose, and Jupyter still displays the figure when a notebook page returns it. The
report pages call these from executed notebook cells, `report.render` for the static images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

# One colour per model, the same on every figure, from matplotlib's default cycle.
MODEL_COLOURS = {"resnet50": "tab:blue", "cnn": "tab:orange"}
MODEL_LABELS = {"resnet50": "ResNet50", "cnn": "CNN"}


def history_columns(rows: list[dict]) -> dict[str, np.ndarray]:
    """history.csv rows (as `results.read_history` returns them) as one array per column."""
    if not rows:
        raise ValueError("history has no epochs")
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def sample_grid(images: np.ndarray, labels: np.ndarray, class_names: list[str], columns: int = 10) -> Figure:
    """A grid of uint8 images (K x 32 x 32 x 3), each titled with its class."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images of shape (K, height, width, 3), got {images.shape}")
    count = len(images)
    rows = max(1, -(-count // columns))
    figure = Figure(figsize=(columns * 1.0, rows * 1.15), dpi=100, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if index < count:
            # Nearest-neighbour: show the 32 x 32 pixels as they are, not smoothed.
            axis.imshow(images[index], interpolation="nearest")
            axis.set_title(class_names[int(labels[index])], fontsize=8)
    return figure


def model_curves(
    model: str, histories: list[dict[str, np.ndarray]], best_epochs: list[int],
    max_epochs: int, seeds: list[int] | None = None,
) -> Figure:
    """Loss and accuracy, train (dashed) and validation (solid), for the runs of one model.

    A dotted vertical line marks each run's best epoch (lowest validation loss: the weights that
    were kept); a cross marks where training stopped when that was before `max_epochs`.
    """
    figure = Figure(figsize=(9, 3.4), dpi=100, layout="constrained")
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    colour = MODEL_COLOURS.get(model, "tab:green")
    for index, (history, best_epoch) in enumerate(zip(histories, best_epochs)):
        suffix = f" (seed {seeds[index]})" if seeds and len(histories) > 1 else ""
        epochs = history["epoch"]
        for axis, key in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
            scale = 100.0 if key == "accuracy" else 1.0
            # Markers as well as lines: a one-epoch run is a single point and would not show.
            axis.plot(epochs, history[key] * scale, "--o", color=colour, alpha=0.7, markersize=3,
                      label=f"train{suffix}")
            axis.plot(epochs, history[f"val_{key}"] * scale, "-o", color=colour, markersize=3,
                      label=f"validation{suffix}")
            axis.axvline(best_epoch, color="grey", linestyle=":", linewidth=1)
            if epochs[-1] < max_epochs:
                axis.plot(epochs[-1], history[f"val_{key}"][-1] * scale, "x", color="black", markersize=8)
    loss_axis.set(title=f"{MODEL_LABELS.get(model, model)}: loss", xlabel="epoch", ylabel="cross-entropy")
    accuracy_axis.set(title=f"{MODEL_LABELS.get(model, model)}: accuracy", xlabel="epoch", ylabel="accuracy (%)")
    loss_axis.legend(fontsize=8)
    _integer_epochs(loss_axis, accuracy_axis, last=max(int(history["epoch"][-1]) for history in histories))
    return figure


def overlaid_curves(curves: dict[str, list[dict[str, np.ndarray]]]) -> Figure:
    """Validation loss and accuracy of every model on shared axes (one line per run)."""
    figure = Figure(figsize=(9, 3.4), dpi=100, layout="constrained")
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    for model, histories in curves.items():
        colour = MODEL_COLOURS.get(model, "tab:green")
        for index, history in enumerate(histories):
            label = MODEL_LABELS.get(model, model) if index == 0 else None
            loss_axis.plot(history["epoch"], history["val_loss"], "-o", color=colour, markersize=3, label=label)
            accuracy_axis.plot(history["epoch"], history["val_accuracy"] * 100.0, "-o", color=colour,
                               markersize=3, label=label)
    loss_axis.set(title="validation loss", xlabel="epoch", ylabel="cross-entropy")
    accuracy_axis.set(title="validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    accuracy_axis.legend(fontsize=8)
    last = max(int(history["epoch"][-1]) for histories in curves.values() for history in histories)
    _integer_epochs(loss_axis, accuracy_axis, last=last)
    return figure


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def plot_confusion(matrix: np.ndarray, class_names: list[str], title: str) -> Figure:
    """Row-normalised confusion matrix (each row sums to 100 % of that class's test images)."""
    totals = matrix.sum(axis=1, keepdims=True)
    percent = np.divide(matrix * 100.0, totals, out=np.zeros(matrix.shape), where=totals > 0)
    figure = Figure(figsize=(5.2, 4.6), dpi=100, layout="constrained")
    axis = figure.subplots()
    image = axis.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    axis.set_xticks(range(len(class_names)), class_names, rotation=60, fontsize=8)
    axis.set_yticks(range(len(class_names)), class_names, fontsize=8)
    axis.set(title=title, xlabel="predicted", ylabel="true")
    figure.colorbar(image, ax=axis, label="% of the true class")
    return figure


def save(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")


def _integer_epochs(*axes, last: int) -> None:
    """Whole-epoch ticks over epochs 1..last, with half an epoch of margin on each side."""
    step = max(1, -(-last // 10))  # at most about ten ticks
    for axis in axes:
        axis.set_xlim(0.5, last + 0.5)
        axis.set_xticks(range(1, last + 1, step))
