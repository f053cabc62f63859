"""The studies' figures, as functions of arrays: the data-efficiency curve and a Grad-CAM grid.

Like `cifarcmp.plots`, each returns a `matplotlib.figure.Figure` built without pyplot, so no
global state leaks between figures and a notebook cell that displays one shows exactly it.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from cifarcmp.claims import ARM_LABELS

# The fine-tuned ResNet50 and the CNN keep their colours from cifarcmp.plots.MODEL_COLOURS.
ARM_COLOURS = {"resnet50": "tab:blue", "resnet50-frozen": "tab:green", "resnet50-random": "tab:purple",
               "cnn": "tab:orange"}


def data_efficiency_curve(series: dict[str, dict[str, np.ndarray]]) -> Figure:
    """Test accuracy against the fraction of the training split, one line per arm.

    `series[arm]` holds arrays `fraction`, `mean` (accuracy as a fraction), `std` (over seeds,
    NaN where a point is a single run) and `n`. Error bars (± std) are drawn only where n > 1: a
    single run has no spread to show, and a zero-length bar would claim it had.
    """
    figure = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
    axis = figure.subplots()
    fractions = set()
    for arm, points in series.items():
        order = np.argsort(points["fraction"])
        fraction, mean = points["fraction"][order], points["mean"][order] * 100
        std, count = points["std"][order] * 100, points["n"][order]
        colour = ARM_COLOURS.get(arm, "tab:grey")
        axis.plot(fraction, mean, "-o", color=colour, markersize=4, label=ARM_LABELS.get(arm, arm))
        spread = count > 1
        if spread.any():
            axis.errorbar(fraction[spread], mean[spread], yerr=std[spread], fmt="none", ecolor=colour, capsize=3)
        fractions.update(float(value) for value in fraction)
    axis.set_xscale("log")
    ticks = sorted(fractions)
    axis.set_xticks(ticks, [f"{value * 100:g} %" for value in ticks])
    axis.minorticks_off()  # only the fractions that were run are labelled
    axis.set(xlabel="fraction of the training split (log scale)", ylabel="test accuracy (%)",
             title="Data efficiency")
    axis.legend(fontsize=8)
    return figure


def gradcam_grid(images: np.ndarray, labels: np.ndarray, heatmaps: dict[str, np.ndarray],
                 predicted: dict[str, np.ndarray], class_names: list[str]) -> Figure:
    """One row per test image: the image, then each arm's heat map over it, titled with its prediction.

    `images` is K x 32 x 32 x 3 (uint8), `labels` K; `heatmaps[arm]` is K x h x w in [0, 1] (h and
    w differ by arm: 7 x 7 for ResNet50 at 224 px, 13 x 13 for the CNN) and `predicted[arm]` K.
    Each map is stretched over the whole image with bilinear smoothing, as Grad-CAM is usually shown.
    """
    images = np.asarray(images)
    if images.ndim != 4 or len(labels) != len(images):
        raise ValueError(f"expected K images (K x height x width x 3) and K labels, got {images.shape}, {len(labels)}")
    arms = list(heatmaps)
    rows, columns = len(images), 1 + len(arms)
    figure = Figure(figsize=(1.7 * columns, 1.9 * rows + 0.3), dpi=100, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    height, width = images.shape[1:3]
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)  # the heat map covers the image's pixels exactly
    for row, image in enumerate(images):
        axes[row, 0].imshow(image, interpolation="nearest")
        axes[row, 0].set_title(f"true: {class_names[int(labels[row])]}", fontsize=8)
        for column, arm in enumerate(arms, start=1):
            axis = axes[row, column]
            axis.imshow(image, interpolation="nearest")
            axis.imshow(heatmaps[arm][row], cmap="jet", alpha=0.45, vmin=0, vmax=1, extent=extent,
                        interpolation="bilinear")
            guess = int(predicted[arm][row])
            verdict = "right" if guess == int(labels[row]) else "wrong"
            axis.set_title(f"{ARM_LABELS.get(arm, arm)}\npred: {class_names[guess]} ({verdict})", fontsize=7)
    for axis in axes.flat:
        axis.set_axis_off()
    return figure
