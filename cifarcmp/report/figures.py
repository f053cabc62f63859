"""The report's figures, as functions of arrays.

Each function returns a `matplotlib.figure.Figure` built without pyplot: no global state, no
backend to choose, and Jupyter still displays the figure when a notebook page returns it. The
report pages call these from executed notebook cells, `report.render` for the static images.
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from PIL import Image  # matplotlib's own PNG dependency

from cifarcmp.analysis.measures import colour, label

# Every figure is at most WIDTH inches (at 100 px per inch) wide and no text in it is smaller
# than FONT points, so that scaled down to a phone's text column (343 px) a label is still
# 10 px high as displayed (10 pt = 13.9 px at 100 dpi, times 343 / 460, the column at 390 px).
WIDTH = 4.6
FONT = 10
# Labels come from results (class names, model labels): a `$` in one must print as a dollar sign,
# never start mathtext, whose parser fails on input such as `$\foo{$`. The report draws no maths.
matplotlib.rcParams["text.parse_math"] = False


def history_columns(rows: list[dict]) -> dict[str, np.ndarray]:
    """history.csv rows (as `results.read_history` returns them) as one array per column."""
    if not rows:
        raise ValueError("history has no epochs")
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def sample_grid(images: np.ndarray, labels: np.ndarray, class_names: list[str]) -> Figure:
    """One row per class present: its name, then its uint8 images (K x 32 x 32 x 3) in order."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images of shape (K, height, width, 3), got {images.shape}")
    labels = np.asarray(labels).astype(int)
    classes = sorted(set(labels.tolist()))
    columns = max(int((labels == value).sum()) for value in classes)
    figure = Figure(figsize=(WIDTH, 0.95 * len(classes) + 0.2), dpi=100, layout="constrained")
    axes = figure.subplots(len(classes), columns, squeeze=False)
    for row, value in enumerate(classes):
        for column, image in enumerate(images[labels == value]):
            # Nearest-neighbour: show the 32 x 32 pixels as they are, not smoothed.
            axes[row, column].imshow(image, interpolation="nearest")
        axes[row, 0].set_ylabel(class_names[value], rotation=0, ha="right", va="center", fontsize=FONT)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_visible(False)
    return figure


# One marker shape per seed, so that seeds stay apart where their shades do not (print, grey scale).
SEED_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def seed_shades(model: str, count: int) -> list[tuple[float, float, float]]:
    """`count` shades of the model's colour, one per seed: its own colour first, then lighter ones,
    the lightest still half its colour so it shows on white."""
    base = np.array(to_rgb(colour(model)))
    return [tuple(base + (1.0 - base) * 0.5 * index / max(count - 1, 1)) for index in range(count)]


def _curve(axis, epochs, values, shade, marker: str, train: bool) -> None:
    """One run's curve: a line with the seed's marker, dashed for training; a run of one epoch,
    which has no line to draw, as its marker alone, hollow for training."""
    if len(epochs) == 1:
        face = "white" if train else shade
        axis.plot(epochs, values, linestyle="none", marker=marker, markersize=7, color=shade, markerfacecolor=face)
    else:
        axis.plot(
            epochs, values, "--" if train else "-", marker=marker, markersize=3, color=shade, alpha=0.8 if train else 1
        )


def model_curves(
    model: str,
    histories: list[dict[str, np.ndarray]],
    best_epochs: list[int],
    max_epochs: int,
    seeds: list[int] | None = None,
) -> Figure:
    """Loss and accuracy, train (dashed) and validation (solid), for the runs of one model.

    Each seed has its shade of the model's colour and its marker; a one-epoch run is its markers
    (hollow: training). A dotted vertical line marks each run's best epoch (lowest validation loss:
    the weights that were kept); a cross marks where training stopped when that was before
    `max_epochs`. The legend names the two line styles and, with several seeds, each seed.
    """
    # Stacked, not side by side: two panels in a row would be too small on a phone.
    figure = Figure(figsize=(WIDTH, 6.6), dpi=100, layout="constrained")
    loss_axis, accuracy_axis = figure.subplots(2, 1)
    shades = seed_shades(model, len(histories))
    single = all(len(history["epoch"]) == 1 for history in histories)
    for index, (history, best_epoch) in enumerate(zip(histories, best_epochs)):
        epochs = history["epoch"]
        marker = SEED_MARKERS[index % len(SEED_MARKERS)]
        for axis, key in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
            scale = 100.0 if key == "accuracy" else 1.0
            _curve(axis, epochs, history[key] * scale, shades[index], marker, train=True)
            _curve(axis, epochs, history[f"val_{key}"] * scale, shades[index], marker, train=False)
            if not single:  # one epoch is the best and the last: a line and a cross would hide the points
                axis.axvline(best_epoch, color="grey", linestyle=":", linewidth=1)
            if epochs[-1] < max_epochs:
                axis.plot(epochs[-1], history[f"val_{key}"][-1] * scale, "x", color="black", markersize=8)
    loss_axis.set(title=f"{label(model, short=True)}: loss", xlabel="epoch", ylabel="cross-entropy")
    accuracy_axis.set(title=f"{label(model, short=True)}: accuracy", xlabel="epoch", ylabel="accuracy (%)")
    neutral = "dimgrey"
    if single:
        handles = [
            Line2D([], [], linestyle="none", marker="o", color=neutral, markerfacecolor="white", label="train"),
            Line2D([], [], linestyle="none", marker="o", color=neutral, label="validation"),
        ]
    else:
        handles = [
            Line2D([], [], linestyle="--", color=neutral, label="train"),
            Line2D([], [], linestyle="-", color=neutral, label="validation"),
        ]
    if seeds and len(histories) > 1:
        handles += [
            Line2D(
                [],
                [],
                linestyle="none",
                marker=SEED_MARKERS[index % len(SEED_MARKERS)],
                color=shade,
                label=f"seed {seed}",
            )
            for index, (seed, shade) in enumerate(zip(seeds, shades))
        ]
    loss_axis.legend(handles=handles, fontsize=FONT, ncol=2 if len(handles) > 3 else 1)
    _integer_epochs(loss_axis, accuracy_axis, last=max(int(history["epoch"][-1]) for history in histories))
    return figure


def overlaid_curves(curves: dict[str, list[dict[str, np.ndarray]]]) -> Figure:
    """Validation loss and accuracy of every model on shared axes (one line per run, each seed in
    its shade of the model's colour and with its marker; a one-epoch run as markers)."""
    figure = Figure(figsize=(WIDTH, 6.6), dpi=100, layout="constrained")
    loss_axis, accuracy_axis = figure.subplots(2, 1)
    for model, histories in curves.items():
        shades = seed_shades(model, len(histories))
        for index, history in enumerate(histories):
            marker = SEED_MARKERS[index % len(SEED_MARKERS)]
            _curve(loss_axis, history["epoch"], history["val_loss"], shades[index], marker, train=False)
            _curve(accuracy_axis, history["epoch"], history["val_accuracy"] * 100.0, shades[index], marker, train=False)
    loss_axis.set(title="validation loss", xlabel="epoch", ylabel="cross-entropy")
    accuracy_axis.set(title="validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    # One entry per model: its colour; the seeds' shades and markers are told apart in the per-model figures.
    accuracy_axis.legend(
        handles=[Line2D([], [], color=colour(model), marker="o", label=label(model, short=True)) for model in curves],
        fontsize=FONT,
    )
    last = max(int(history["epoch"][-1]) for histories in curves.values() for history in histories)
    _integer_epochs(loss_axis, accuracy_axis, last=last)
    return figure


def confusion_figure(counts: np.ndarray, class_names: list[str], title: str) -> Figure:
    """Counts (top) and row-normalised percentages (bottom) of one confusion matrix.

    Rows are true classes, columns predicted ones. Both panels print their numbers in the cells:
    the colour shows the pattern, the numbers are what a reader quotes. The panels are stacked
    rather than side by side so that, at the width of a page's text column, the numbers stay
    legible without scaling the image down.
    """
    counts = np.asarray(counts)
    totals = counts.sum(axis=1, keepdims=True)
    percent = np.divide(counts * 100.0, totals, out=np.zeros(counts.shape), where=totals > 0)
    figure = Figure(figsize=(WIDTH, 11.0), dpi=100, layout="constrained")
    figure.suptitle(_wrap(title, 44), fontsize=FONT + 1)
    panels = (
        (counts, "test images", "counts", max(1, int(counts.max()))),
        (percent, "% of the true class", "row-normalised (% of each true class)", 100),
    )
    for axis, (values, unit, heading, top) in zip(figure.subplots(2, 1), panels):
        image = axis.imshow(values, cmap="Blues", vmin=0, vmax=top)
        for (row, column), value in np.ndenumerate(values):
            if value:
                axis.text(
                    column,
                    row,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    fontsize=FONT - 1 if values.max() >= 1000 else FONT,
                    color="white" if value > top / 2 else "black",
                )
        axis.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", rotation_mode="anchor")
        axis.set_yticks(range(len(class_names)), class_names)
        axis.tick_params(labelsize=FONT)
        axis.set_xlabel("predicted", fontsize=FONT)
        axis.set_ylabel("true", fontsize=FONT)
        axis.set_title(heading, fontsize=FONT)
        # Below the matrix rather than beside it: the cells keep the whole width for their numbers.
        figure.colorbar(image, ax=axis, label=unit, location="bottom", shrink=0.8, aspect=30)
    return figure


def reliability_diagrams(panels: list[tuple[str, str, list[dict], float]]) -> Figure:
    """One reliability diagram per (model, title, bins, ECE), side by side.

    `bins` are the entries of an evaluation's "reliability" list (lower, upper, confidence,
    accuracy, count; None for an empty bin). A filled bar per bin shows its accuracy and a
    hatched outline its mean confidence; the diagonal is perfect calibration. Hatching rather
    than a second fill keeps an underconfident bin (confidence below accuracy) readable.
    """
    figure = Figure(figsize=(WIDTH, 4.4 * len(panels)), dpi=100, layout="constrained")
    for axis, (model, title, bins, ece) in zip(figure.subplots(len(panels), 1, squeeze=False)[:, 0], panels):
        filled = [entry for entry in bins if entry["count"]]
        lefts = [entry["lower"] for entry in filled]
        widths = [entry["upper"] - entry["lower"] for entry in filled]
        axis.bar(
            lefts,
            [entry["accuracy"] for entry in filled],
            width=widths,
            align="edge",
            color=colour(model),
            edgecolor="black",
            linewidth=0.5,
            label="accuracy",
        )
        axis.bar(
            lefts,
            [entry["confidence"] for entry in filled],
            width=widths,
            align="edge",
            fill=False,
            hatch="///",
            edgecolor="tab:red",
            linewidth=0.8,
            label="mean confidence",
        )
        axis.plot([0, 1], [0, 1], "--", color="grey", linewidth=1, label="calibrated")
        axis.set(xlim=(0, 1), ylim=(0, 1))
        axis.set_xlabel("confidence (largest probability)", fontsize=FONT)
        axis.set_ylabel("accuracy", fontsize=FONT)
        axis.set_title(f"{_wrap(title, 40)}: ECE {ece:.4f}", fontsize=FONT + 1)
        axis.tick_params(labelsize=FONT)
        axis.legend(fontsize=FONT, loc="upper left")
    return figure


def mistake_gallery(items: list[dict], title: str, columns: int = 3) -> Figure:
    """Test images (items with image, true, predicted, confidence) titled with what went wrong."""
    rows = max(1, -(-len(items) // columns))
    figure = Figure(figsize=(WIDTH, rows * 2.3 + 0.5), dpi=100, layout="constrained")
    figure.suptitle(_wrap(title, 44), fontsize=FONT + 1)
    for index, axis in enumerate(figure.subplots(rows, columns, squeeze=False).flat):
        axis.set_axis_off()
        if index < len(items):
            item = items[index]
            # Nearest-neighbour: the 32 x 32 pixels as the model saw them, not smoothed.
            axis.imshow(item["image"], interpolation="nearest")
            axis.set_title(
                f"true: {item['true']}\npred: {item['predicted']}\n{item['confidence'] * 100:.1f} %", fontsize=FONT
            )
    return figure


# The studies' figures ---------------------------------------------------------------------------


def data_efficiency_curve(series: dict[str, dict[str, np.ndarray]]) -> Figure:
    """Test accuracy against the fraction of the training split, one line per arm.

    `series[arm]` holds arrays `fraction`, `mean` (accuracy as a fraction), `std` (over seeds,
    NaN where a point is a single run) and `n`. Error bars (± std) are drawn only where n > 1: a
    single run has no spread to show, and a zero-length bar would claim it had.
    """
    figure = Figure(figsize=(WIDTH, 3.8), dpi=100, layout="constrained")
    axis = figure.subplots()
    fractions = set()
    for arm, points in series.items():
        order = np.argsort(points["fraction"])
        fraction, mean = points["fraction"][order], points["mean"][order] * 100
        std, count = points["std"][order] * 100, points["n"][order]
        arm_colour = colour(arm)
        axis.plot(fraction, mean, "-o", color=arm_colour, markersize=4, label=label(arm))
        spread = count > 1
        if spread.any():
            axis.errorbar(fraction[spread], mean[spread], yerr=std[spread], fmt="none", ecolor=arm_colour, capsize=3)
        fractions.update(float(value) for value in fraction)
    axis.set_xscale("log")
    ticks = sorted(fractions)
    axis.set_xticks(ticks, [f"{value * 100:g} %" for value in ticks])
    axis.minorticks_off()  # only the fractions that were run are labelled
    axis.set(xlabel="fraction of the training split (log scale)", ylabel="test accuracy (%)", title="Data efficiency")
    axis.legend(fontsize=FONT)
    return figure


def gradcam_grid(
    images: np.ndarray,
    labels: np.ndarray,
    heatmaps: dict[str, np.ndarray],
    predicted: dict[str, np.ndarray],
    class_names: list[str],
) -> Figure:
    """One row per test image: the image, then each arm's heat map over it, with a shared colour scale.

    `images` is K x 32 x 32 x 3 (uint8), `labels` K; `heatmaps[arm]` is K x h x w in [0, 1] (h and
    w differ by arm: 7 x 7 for ResNet50 at 224 px, 13 x 13 for the CNN) and `predicted[arm]` K.
    Each map is stretched over the whole image with bilinear smoothing, as Grad-CAM is usually shown.
    The arms head the columns once; under each map is the class that arm predicted, with a tick
    or a cross. Callers split many images over several figures (`gradcam_figures`).
    """
    images = np.asarray(images)
    if images.ndim != 4 or len(labels) != len(images):
        raise ValueError(f"expected K images (K x height x width x 3) and K labels, got {images.shape}, {len(labels)}")
    arms = list(heatmaps)
    rows, columns = len(images), 1 + len(arms)
    figure = Figure(figsize=(WIDTH, 1.25 * rows + 1.6), dpi=100, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    height, width = images.shape[1:3]
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)  # the heat map covers the image's pixels exactly
    shown = None
    for row, image in enumerate(images):
        axes[row, 0].imshow(image, interpolation="nearest")
        # Wrapped like the titles: "true: automobile" is wider than its column.
        axes[row, 0].set_xlabel(_wrap(f"true: {class_names[int(labels[row])]}", 11), fontsize=FONT)
        for column, arm in enumerate(arms, start=1):
            axis = axes[row, column]
            axis.imshow(image, interpolation="nearest")
            shown = axis.imshow(
                heatmaps[arm][row], cmap="jet", alpha=0.45, vmin=0, vmax=1, extent=extent, interpolation="bilinear"
            )
            guess = int(predicted[arm][row])
            mark = "✓" if guess == int(labels[row]) else "✗"
            axis.set_xlabel(_wrap(f"{class_names[guess]} {mark}", 11), fontsize=FONT)
    axes[0, 0].set_title("image", fontsize=FONT)
    for column, arm in enumerate(arms, start=1):
        # Five columns of 92 px: "(frozen features)" on one line would run into its neighbours.
        axes[0, column].set_title(_wrap(label(arm), 12), fontsize=FONT)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_visible(False)
    if shown is not None:
        bar = figure.colorbar(shown, ax=axes[-1, :].tolist(), location="bottom", shrink=0.8, aspect=30)
        bar.set_label("Grad-CAM weight: 0 no influence, 1 most (red)", fontsize=FONT)
        bar.ax.tick_params(labelsize=FONT)
    return figure


def gradcam_figures(
    images: np.ndarray,
    labels: np.ndarray,
    heatmaps: dict[str, np.ndarray],
    predicted: dict[str, np.ndarray],
    class_names: list[str],
    per_figure: int = 4,
) -> list[Figure]:
    """`gradcam_grid` in figures of at most `per_figure` images: one tall strip is unreadable."""
    return [
        gradcam_grid(
            images[start : start + per_figure],
            labels[start : start + per_figure],
            {arm: maps[start : start + per_figure] for arm, maps in heatmaps.items()},
            {arm: guesses[start : start + per_figure] for arm, guesses in predicted.items()},
            class_names,
        )
        for start in range(0, len(images), per_figure)
    ]


def accuracy_against_compute(points: list[dict], front: list[int]) -> Figure:
    """Test accuracy against training compute (counted FLOPs, log scale), one point per result of the
    Improvements page (`analysis.improvements.pareto_points`): coloured by model, squares for the
    seed's protocol, circles for an improvement. The Pareto front (no other point is both cheaper and
    more accurate) is joined by a dashed line, its points ringed and named."""
    figure = Figure(figsize=(WIDTH, 5.0), dpi=100, layout="constrained")
    axis = figure.subplots()
    models = list(dict.fromkeys(point["model"] for point in points))
    for model in models:
        for baseline in (True, False):
            chosen = [point for point in points if point["model"] == model and point["baseline"] == baseline]
            if chosen:
                axis.plot(
                    [point["flops"] for point in chosen],
                    [point["accuracy"] * 100 for point in chosen],
                    linestyle="none",
                    marker="s" if baseline else "o",
                    markersize=7 if baseline else 5,
                    color=colour(model),
                    label=f"{label(model, short=True)}{' (seed protocol)' if baseline else ''}",
                )
    if front:
        on_front = [points[index] for index in front]
        axis.plot(
            [point["flops"] for point in on_front],
            [point["accuracy"] * 100 for point in on_front],
            "--",
            color="black",
            linewidth=1,
            drawstyle="steps-post",
            label="Pareto front",
        )
        axis.plot(
            [point["flops"] for point in on_front],
            [point["accuracy"] * 100 for point in on_front],
            linestyle="none",
            marker="o",
            markersize=11,
            markerfacecolor="none",
            markeredgecolor="black",
        )
    axis.set_xscale("log")
    # Plain-text tick labels in the report's FLOP units (matplotlib's default log labels are mathtext,
    # which this module turns off), and no labels on the minor ticks, which would crowd the axis.
    flops = [point["flops"] for point in points]
    ticks = _flop_ticks(flops)
    axis.xaxis.set_major_locator(FixedLocator(ticks))
    axis.set_xlim(min(*ticks, *flops) / 1.2, max(*ticks, *flops) * 1.2)  # every tick in view
    axis.xaxis.set_minor_locator(NullLocator())
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _flop_label(value)))
    axis.set(
        xlabel="training compute (counted FLOPs, log scale)",
        ylabel="test accuracy (%)",
        title="Accuracy against training compute",
    )
    # Below the axes, not over the points.
    figure.legend(fontsize=FONT - 1, loc="outside lower center", ncols=2, frameon=False)
    return figure


def _flop_ticks(flops: list[float], most: int = 5) -> list[float]:
    """Ticks for a log axis of FLOPs: decades, or 1, 2 and 5 of each when the points span less than
    two; within one such step, the smallest and largest point (two significant digits), so that a
    plan whose runs all lie within a decade still has its axis labelled."""
    low, high = min(flops), max(flops)
    decades = range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
    for steps in ((1.0,), (1.0, 2.0, 5.0)):
        ticks = [step * 10.0**decade for decade in decades for step in steps]
        inside = [tick for tick in ticks if low / 1.3 <= tick <= high * 1.3]
        if 2 <= len(inside) <= most:
            return inside
    return sorted({float(f"{low:.2g}"), float(f"{high:.2g}")})


def _flop_label(value: float) -> str:
    """A tick of a FLOP axis: "300 GFLOP", "3 TFLOP", "1 PFLOP"."""
    for scale, symbol in ((1e18, "EFLOP"), (1e15, "PFLOP"), (1e12, "TFLOP"), (1e9, "GFLOP"), (1e6, "MFLOP")):
        if value >= scale:
            return f"{value / scale:g} {symbol}"
    return f"{value:g} FLOP"


def compute_figure_description(points: list[dict], front: list[int], synthetic: bool) -> str:
    """The figure's alt text and caption: what it plots, and which results form the front."""
    named = "; ".join(f"{points[index]['label']} ({points[index]['accuracy'] * 100:.1f} %)" for index in front)
    text = (
        f"Test accuracy against counted training FLOPs (log scale) for {len(points)} results of the improvement "
        f"studies, coloured by model; squares are the seed's protocol. The Pareto front, from the cheapest: {named}."
    )
    return text + (" Synthetic data: not CIFAR-10 results." if synthetic else "")


def save(figure: Figure, path: Path) -> None:
    """A PNG at twice the figure's size in pixels, shown at its size: sharp on high-density screens.

    Opaque (RGB on the white page, no alpha channel) and optimised: an eighth smaller, the same
    pixels. On a phone's link the figures are most of what a page weighs.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    rendered = io.BytesIO()
    figure.savefig(rendered, format="png", dpi=200, facecolor="white")
    with Image.open(rendered) as image:
        image.convert("RGB").save(path, format="PNG", optimize=True)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _integer_epochs(*axes, last: int) -> None:
    """Whole-epoch ticks over epochs 1..last, with half an epoch of margin on each side."""
    step = max(1, -(-last // 10))  # at most about ten ticks
    for axis in axes:
        axis.set_xlim(0.5, last + 0.5)
        axis.set_xticks(range(1, last + 1, step))
