"""Augmentation of the training images, in the input pipeline: Keras 3's own preprocessing layers.

A run's `augmentation` (config.AUGMENTATIONS) names one of:
- `flip-crop`: `RandomFlip("horizontal")`, then a shift of up to 4 px each way with the border
  filled with zeros (`RandomTranslation` with nearest-pixel interpolation), which is padding by
  4 px and cropping 32 x 32 again, per image (He et al. 2016's CIFAR-10 augmentation). Keras'
  `RandomCrop` would draw one offset per batch, not per image, so it is not used.
- `randaugment`: `RandAugment` with Keras' defaults (2 operations of its list per image, factor 0.5).
- `mixup`: `MixUp` (alpha 0.2, Keras' default): each image mixed with another of its batch, and
  their one-hot labels in the same proportion, so these runs train on soft labels
  (models.compile_for_training).

Only the training split is augmented, and only here: `TrainingBatches` feeds `fit`, while the
validation split, the test set and every reported figure (evaluate.py) see the plain images.

Reproducible by seed: the batches of an epoch are a permutation drawn from (seed, epoch), and
batch b of epoch e is augmented by layers created for it, seeded from (seed, e, b). So each batch
is a function of those numbers alone, whatever order Keras asks for batches in (it reads two ahead
to learn their shapes) and however often a run is interrupted and resumed. Creating the layers per
batch costs a few milliseconds; RandAugment's own work (every one of its operations is computed
for every image, then one is picked) is the larger cost on a CPU.

Public Keras 3 API only (`keras.layers`, `keras.ops`, `keras.utils.PyDataset`), so the same code
runs under the JAX and PyTorch backends.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from cifarcmp.config import RunConfig

SHIFT_PIXELS = 4  # pad-and-crop's padding, as a fraction of the 32 px side below
IMAGE_SIDE = 32
CLASSES = 10


def soft_labels(config: RunConfig) -> bool:
    """Whether the run trains on one-hot (then mixed) labels rather than class indices."""
    return config.augmentation == "mixup"


def encoded_labels(labels: np.ndarray, config: RunConfig) -> np.ndarray:
    """Labels as the run's loss takes them: class indices, or one-hot rows for MixUp."""
    if not soft_labels(config):
        return labels
    return np.eye(CLASSES, dtype=np.float32)[labels]


def batch_seed(seed: int, epoch: int, batch: int) -> int:
    """A seed for one batch of one epoch, drawn from the run's seed (independent streams per batch)."""
    return int(np.random.SeedSequence([seed, epoch, batch]).generate_state(1)[0] % 2**31)


def layers_for(augmentation: str, seed: int) -> list:
    """The Keras layers of one augmentation, seeded (applied in order)."""
    if augmentation == "flip-crop":
        shift = SHIFT_PIXELS / IMAGE_SIDE
        return [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(
                shift, shift, fill_mode="constant", fill_value=0.0, interpolation="nearest", seed=seed + 1
            ),
        ]
    if augmentation == "randaugment":
        return [keras.layers.RandAugment(value_range=(0, 255), seed=seed)]
    if augmentation == "mixup":
        return [keras.layers.MixUp(seed=seed)]
    raise ValueError(f"no augmentation layers for {augmentation!r}")


def augment(augmentation: str, images: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One batch augmented (images as float32 0..255; labels as given, mixed by MixUp)."""
    if augmentation == "none":
        return images, labels
    data = {"images": keras.ops.cast(images, "float32"), "labels": keras.ops.convert_to_tensor(labels)}
    for layer in layers_for(augmentation, seed):
        data = layer(data, training=True)  # a dict: the labels go through too (MixUp mixes them)
    return keras.ops.convert_to_numpy(data["images"]), keras.ops.convert_to_numpy(data["labels"])


class TrainingBatches(keras.utils.PyDataset):
    """The training split in batches, shuffled and augmented per (seed, epoch, batch).

    `epoch` is set by `EpochFollower` at the start of every epoch (Keras gives no epoch to a
    dataset); give `fit` `shuffle=False`, since the order is drawn here.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, config: RunConfig, **kwargs):
        super().__init__(**kwargs)
        self.images, self.labels = images, encoded_labels(labels, config)
        self.batch_size, self.seed, self.augmentation = config.batch_size, config.seed, config.augmentation
        self.epoch = 0
        self._order: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's permutation of the training images."""
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.images)))
        return self._order[1]

    def __getitem__(self, index: int):
        chosen = self.order(self.epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        return augment(
            self.augmentation, self.images[chosen], self.labels[chosen], batch_seed(self.seed, self.epoch, index)
        )


class EpochFollower(keras.callbacks.Callback):
    """Tells the batches which epoch is starting (resumed runs start past 0)."""

    def __init__(self, batches: TrainingBatches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch
