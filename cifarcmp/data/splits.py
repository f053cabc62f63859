"""The splits every run uses: a stratified, seeded validation hold-out and subsets, and class counts.

Pure numpy on label arrays; `run_split` applies them to a data set for one run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cifarcmp.errors import UserError

if TYPE_CHECKING:
    from cifarcmp.config import RunConfig
    from cifarcmp.data.source import Dataset


def stratified_split(labels: np.ndarray, held_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out): `held_out` images, the same share of every class, seeded."""
    if not 0 < held_out < len(labels):
        raise UserError(f"cannot hold out {held_out} of {len(labels)} images for validation")
    generator = np.random.default_rng(seed)
    classes, class_counts = np.unique(labels, return_counts=True)
    # Largest remainder: per-class quotas that add up to exactly `held_out`.
    exact = class_counts * held_out / len(labels)
    quotas = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - quotas))[: held_out - quotas.sum()]:
        quotas[index] += 1
    held = []
    for label, quota in zip(classes, quotas):
        members = np.flatnonzero(labels == label)
        held.append(generator.choice(members, size=quota, replace=False))
    held_out_indices = np.sort(np.concatenate(held))
    kept = np.setdiff1d(np.arange(len(labels)), held_out_indices)
    return kept, held_out_indices


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of `size` images with every class in proportion (all of them when size is 0)."""
    if size == 0 or size >= len(labels):
        return np.arange(len(labels))
    _, subset = stratified_split(labels, size, seed)
    return subset


def class_counts(labels: np.ndarray) -> list[int]:
    return np.bincount(labels, minlength=10).astype(int).tolist()


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Positions of the first `per_class` images of every class, class by class (deterministic).

    The sample grid of the Data page and the Grad-CAM images are both picked this way.
    """
    return np.concatenate([np.flatnonzero(labels == label)[:per_class] for label in range(10)])


def run_split(dataset: Dataset, config: RunConfig) -> dict:
    """A run's images: its training split (subset, fraction), a stratified training sample as large as
    validation, validation, and its test subset with the test images' indices. The same for training
    and for predicting again from the kept model, from the config alone."""
    kept, validation = stratified_split(dataset.y_train, config.validation_size, config.seed)
    train = kept[stratified_subset(dataset.y_train[kept], config.train_subset, config.seed)]
    if config.train_fraction < 1:
        # At least one image per class, so 1% of a small subset still covers every class.
        size = max(10, round(config.train_fraction * len(train)))
        train = train[stratified_subset(dataset.y_train[train], size, config.seed)]
    test = stratified_subset(dataset.y_test, config.test_subset, config.seed)
    train_sample = train[stratified_subset(dataset.y_train[train], len(validation), config.seed)]
    return {
        "x_train_sample": dataset.x_train[train_sample],
        "y_train_sample": dataset.y_train[train_sample],
        "x_train": dataset.x_train[train],
        "y_train": dataset.y_train[train],
        "x_val": dataset.x_train[validation],
        "y_val": dataset.y_train[validation],
        "x_test": dataset.x_test[test],
        "y_test": dataset.y_test[test],
        "test_indices": test,
    }
