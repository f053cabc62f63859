"""A generated, learnable, CIFAR-shaped data set for tests and offline first runs.

Each class is a stripe orientation and, more often than not, a colour, with random phase,
stripe width, brightness and pixel noise, so a small CNN learns it in an epoch or two but not
perfectly. It is written in the official python archive layout, so the real parsing code is
what reads it. Its class names say "synthetic": nothing made from it can pass for CIFAR-10.
"""

from __future__ import annotations

import numpy as np

from cifarcmp.data.archive import Arrays

CLASS_NAMES = [f"synthetic-{index}" for index in range(10)]
TRAIN_IMAGES = 50_000  # CIFAR-10's sizes, so a real profile run on it costs what it would on CIFAR-10
TEST_IMAGES = 10_000
DATA_SEED = 20_261_124  # fixed: every training seed sees the same synthetic data set


def generate(train_images: int = TRAIN_IMAGES, test_images: int = TEST_IMAGES, seed: int = DATA_SEED) -> Arrays:
    generator = np.random.default_rng(seed)
    x_train, y_train = _images(generator, train_images)
    x_test, y_test = _images(generator, test_images)
    return Arrays(x_train, y_train, x_test, y_test, list(CLASS_NAMES), layout="python")


def _images(generator: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(count) % 10  # balanced classes
    generator.shuffle(labels)
    # Colour: ten well separated hues; orientation: ten angles over half a turn.
    palette = np.array(
        [
            [200, 60, 60],
            [60, 200, 60],
            [60, 60, 200],
            [200, 200, 60],
            [200, 60, 200],
            [60, 200, 200],
            [230, 140, 40],
            [120, 120, 120],
            [140, 40, 230],
            [40, 140, 90],
        ],
        dtype=np.float32,
    )
    angles = labels * (np.pi / 10)
    rows, columns = np.mgrid[0:32, 0:32].astype(np.float32)
    wavelength = generator.uniform(4.0, 9.0, size=count).astype(np.float32)
    phase = generator.uniform(0, 2 * np.pi, size=count).astype(np.float32)
    position = (np.cos(angles)[:, None, None] * columns + np.sin(angles)[:, None, None] * rows).astype(np.float32)
    stripes = np.sin(2 * np.pi * position / wavelength[:, None, None] + phase[:, None, None])
    brightness = generator.uniform(0.6, 1.2, size=(count, 1, 1, 1)).astype(np.float32)
    # Colour matches the class only 60% of the time, so the stripes' orientation must be learnt.
    hue = np.where(generator.random(count) < 0.6, labels, generator.integers(0, 10, size=count))
    colour = palette[hue][:, None, None, :] * brightness
    images = colour * (0.6 + 0.4 * stripes[..., None])
    images += generator.normal(0, 30, size=images.shape).astype(np.float32)
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)
