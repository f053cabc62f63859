"""Training-split augmentation (train/augmentation.py): Keras' layers on tiny arrays, reproducible by
seed, applied to the training batches only; MixUp's soft labels and their loss. No training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from cifarcmp import config
from cifarcmp.train import augmentation, models, run

IMAGES = np.random.default_rng(0).integers(1, 256, size=(20, 32, 32, 3), dtype=np.uint8)  # no zero pixel
LABELS = np.arange(20) % 10


def _config(augmentation_name: str, seed: int = 0) -> config.RunConfig:
    return dataclasses.replace(config.resolve("cnn", "smoke", augmentation=augmentation_name, seed=seed), batch_size=8)


def _batches(name: str, seed: int = 0) -> augmentation.TrainingBatches:
    return augmentation.TrainingBatches(IMAGES, LABELS, _config(name, seed))


@pytest.mark.parametrize("name", ["flip-crop", "randaugment", "mixup"])
def test_each_batch_is_the_same_for_the_same_seed_epoch_and_batch(name):
    batches = _batches(name)
    assert len(batches) == 3  # 20 images in batches of 8
    later_first = batches[1]  # asked for out of order, as Keras does when it looks ahead
    first = batches[0]
    again = _batches(name)
    for index, (images, labels) in ((0, first), (1, later_first)):
        np.testing.assert_array_equal(images, again[index][0])
        np.testing.assert_array_equal(labels, again[index][1])
    assert images.dtype == np.float32 and images.shape == (8, 32, 32, 3)
    assert images.min() >= 0 and images.max() <= 255
    assert not np.array_equal(first[0], _batches(name, seed=1)[0][0])  # another seed, other images
    batches.epoch = 1
    assert not np.array_equal(first[0], batches[0][0])  # another epoch, another draw


def test_the_batches_of_an_epoch_cover_the_training_split_once():
    batches = _batches("flip-crop")
    for epoch in (0, 3):
        order = batches.order(epoch)
        assert sorted(order) == list(range(len(IMAGES)))
    assert not np.array_equal(batches.order(0), batches.order(3))
    labels = np.concatenate([batches[index][1] for index in range(len(batches))])
    np.testing.assert_array_equal(labels, LABELS[batches.order(0)])  # flip and shift keep the labels


def test_flip_crop_flips_and_shifts_each_image_by_at_most_four_pixels():
    images, _ = _batches("flip-crop")[0]
    sources = IMAGES[_batches("flip-crop").order(0)[:8]].astype(np.float32)
    shifts = set()
    for image, source in zip(images, sources):
        found = [
            (flip, dy, dx)
            for flip in (False, True)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
            if np.array_equal(image, _shifted(source[:, ::-1] if flip else source, dy, dx))
        ]
        assert found, "an augmented image is not a flip and a shift of at most 4 px of its source"
        shifts.add(found[0])
    assert len(shifts) > 1  # drawn per image, not once per batch as RandomCrop would


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The image moved by (dy, dx) pixels, the uncovered border zero: padding and cropping."""
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    return padded[4 - dy : 36 - dy, 4 - dx : 36 - dx]


def test_mixup_mixes_images_and_one_hot_labels_in_the_same_proportion():
    images, labels = _batches("mixup")[0]
    chosen = _batches("mixup").order(0)[:8]
    sources, classes = IMAGES[chosen].astype(np.float64), np.eye(10)[LABELS[chosen]]
    assert labels.shape == (8, 10) and labels.dtype == np.float32
    np.testing.assert_allclose(labels.sum(axis=1), 1, atol=1e-6)
    mixed = 0
    for image, label, own, own_class in zip(images, labels, sources, classes):
        # image = w x its own source + (1 - w) x another of the batch, and its label likewise.
        explained = False
        for other, other_class in zip(sources, classes):
            difference = own - other
            if not difference.any():
                explained |= np.allclose(image, own, atol=1e-3) and np.allclose(label, own_class, atol=1e-6)
                continue
            weight = float(np.sum(difference * (image - other)) / np.sum(difference * difference))
            if np.allclose(image, weight * own + (1 - weight) * other, atol=1e-2):
                explained = True
                assert 0 <= weight <= 1
                np.testing.assert_allclose(label, weight * own_class + (1 - weight) * other_class, atol=1e-5)
                mixed += weight < 0.999
        assert explained, "a MixUp image is not a mix of two images of its batch"
    assert mixed > 0


def test_mixup_trains_on_soft_labels_with_categorical_cross_entropy():
    mixup = _config("mixup")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    models.compile_for_training(model, mixup)
    soft = np.full((2, 10), 0.05, dtype=np.float32)
    soft[0, 3] = soft[1, 7] = 0.55
    predicted = np.full((2, 10), 0.1, dtype=np.float32)
    expected = float(np.mean(-(soft * np.log(predicted)).sum(axis=1)))
    assert float(model.loss(soft, predicted)) == pytest.approx(expected, rel=1e-5)
    result = model.train_on_batch(np.ones((2, 4), np.float32), soft, return_dict=True)
    assert set(result) == {"loss", "accuracy"} and np.isfinite(result["loss"])
    np.testing.assert_array_equal(augmentation.encoded_labels(np.array([3, 7]), mixup).argmax(axis=1), [3, 7])
    # Without MixUp the labels stay class indices, as the seed trained.
    np.testing.assert_array_equal(augmentation.encoded_labels(LABELS, _config("flip-crop")), LABELS)


class _Recorder:
    """Stands in for a model: records what fit was given, trains nothing."""

    optimizer = None

    def fit(self, x, y=None, **options):
        self.x, self.y, self.options = x, y, options


@pytest.mark.parametrize("name", ["none", "flip-crop", "mixup"])
def test_only_the_training_split_goes_through_the_augmentation(tmp_path: Path, name):
    split = {"x_train": IMAGES, "y_train": LABELS, "x_val": IMAGES[:10] + 0, "y_val": LABELS[:10]}
    model = _Recorder()
    (tmp_path / "checkpoints").mkdir()
    run._fit(model, _config(name), split, tmp_path / "checkpoints", None)
    images, labels = model.options["validation_data"]
    assert images is split["x_val"]  # validation: the plain images
    if name == "none":  # the seed's pipeline, untouched: the arrays, shuffled by fit
        assert model.x is split["x_train"] and model.options["shuffle"] is True
        return
    assert isinstance(model.x, augmentation.TrainingBatches) and model.options["shuffle"] is False
    assert model.x.images is split["x_train"]
    followers = [
        callback for callback in model.options["callbacks"] if isinstance(callback, augmentation.EpochFollower)
    ]
    assert followers and followers[0].batches is model.x
    followers[0].on_epoch_begin(4)  # a resumed run starts past epoch 0
    assert model.x.epoch == 4
    expected = np.eye(10)[split["y_val"]] if name == "mixup" else split["y_val"]
    np.testing.assert_array_equal(labels, expected)
