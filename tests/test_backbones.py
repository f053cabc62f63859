"""The keras.applications backbones of cifarcmp/architectures.py beyond the seed's ResNet50: each one
builds under the seed's head with exact parameter counts and counted FLOPs, asks Keras for the
weights file and hash its entry names, and loads a local weights file offline or refuses it in one
line. Everything is built with random weights at 32 px (the smallest side Keras accepts), so the
file takes seconds; weights files are small ones generated here, never real ImageNet weights."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings

import h5py
import keras
import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from cifarcmp import architectures, config
from cifarcmp.errors import UserError
from cifarcmp.train import compute, models

BACKBONES = [name for name, entry in architectures.ARCHITECTURES.items() if entry.transfer and not entry.in_seed_report]
TRANSFER = [name for name, entry in architectures.ARCHITECTURES.items() if entry.transfer]

# Total parameters under the seed's head (Keras' own backbone count + the head's, as below), so a
# change in Keras or in the head shows here. ResNet50's, 26,215,818, is the seed's (test_models.py).
TOTAL_PARAMETERS = {
    "resnet50v2": 26_192_906,
    "efficientnetv2b0": 7_760_986,
    "mobilenetv3large": 4_510_346,
    "convnexttiny": 29_137_514,
    "densenet121": 8_617_034,
}


def _head_parameters(features: int) -> int:
    """GAP -> Dense 1024 -> Dense 512 -> Dense 10, weights and biases."""
    return (features * 1024 + 1024) + (1024 * 512 + 512) + (512 * 10 + 10)


def _head_flops(features: int) -> int:
    """The same three Dense layers, 2 operations per multiply-add plus one per bias."""
    return (2 * features * 1024 + 1024) + (2 * 1024 * 512 + 512) + (2 * 512 * 10 + 10)


def _keras_backbone(entry, size: int = 32, weights=None):
    return getattr(keras.applications, entry.application)(
        include_top=False, weights=weights, input_shape=(size, size, 3)
    )


def test_the_backbones_are_registry_entries_outside_the_seed_report(tmp_path):
    assert BACKBONES == ["resnet50v2", "efficientnetv2b0", "mobilenetv3large", "convnexttiny", "densenet121"]
    colours = [entry.colour for entry in architectures.ARCHITECTURES.values()]
    assert len(set(colours)) == len(colours)  # every model its own colour in every figure
    for name in BACKBONES:
        entry = architectures.get(name)
        assert not entry.in_seed_report and entry.protocol == architectures.RESNET50.protocol
        # The seed's protocol in every profile: the same cuts as ResNet50's, so they compare on the
        # same images, epochs and resolution; each profile's resolution reaches the entry's minimum.
        for profile in config.PROFILES:
            run = config.resolve(name, profile)
            reference = config.resolve("resnet50", profile)
            assert run.image_size >= entry.min_image_size
            same = ("epochs", "upsampling", "train_subset", "test_subset", "validation_size", "learning_rate", "data")
            assert all(getattr(run, field) == getattr(reference, field) for field in same)
        assert 0.7 < entry.imagenet_top1 < 0.9 and entry.imagenet_top1_source.startswith("https://")
        assert entry.weights_file.endswith(".h5") and len(entry.weights_hash[1]) in (32, 64)
    # Not one of the seed's two: no report trains them unless a study asks.
    from cifarcmp import plan

    planned = plan.build(plan.PlanSettings("smoke", results_root=tmp_path))
    assert [run.config.model for run in planned.runs] == ["resnet50", "cnn"]


@pytest.mark.parametrize("name", BACKBONES)
def test_a_backbone_builds_under_the_seed_head_from_a_local_weights_file(tmp_path, name):
    """Parameters exact (Keras' backbone + the head by hand), FLOPs counted exactly (the backbone's
    own count + the head by hand), one forward pass gives probabilities, the Grad-CAM layer is a
    feature map, and a weights file of the right shapes loads offline, every layer as saved."""
    entry = architectures.get(name)
    base = _keras_backbone(entry)
    features = base.output.shape[-1]
    weights = tmp_path / f"{name}-own.weights.h5"
    base.save_weights(weights)

    run = config.resolve(name, "smoke", weights=str(weights))
    assert run.image_size == 32 and f"weights: {str(weights)!r} instead of ImageNet" in run.deviations
    model = models.build(run)

    counts = models.parameter_counts(model)
    assert counts["total"] == base.count_params() + _head_parameters(features) == TOTAL_PARAMETERS[name]
    assert counts["non_trainable"] == sum(int(np.prod(w.shape)) for w in base.non_trainable_weights)
    forward = compute.forward_flops_per_image(model)
    assert forward == compute.forward_flops_per_image(base) + _head_flops(features) > _head_flops(features)
    assert compute.training_flops_per_image(model) == 3 * forward

    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3)).astype("uint8")
    probabilities = np.asarray(model(images, training=False))
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert len(model.get_layer(entry.gradcam_layer).output.shape) == 4

    for saved, loaded in zip(base.get_weights(), model.get_layer(entry.gradcam_layer).get_weights(), strict=True):
        np.testing.assert_array_equal(saved, loaded)


def test_convnext_counts_its_pointwise_dense_layers_at_every_position():
    """ConvNeXt's pointwise layers are Dense on 4-D maps (test_compute.py counts one block by hand):
    counted per position, the whole backbone's FLOPs grow exactly 4x from 32 to 64 px, as every
    layer's output positions do. Counted once per layer, they would not."""
    entry = architectures.CONVNEXTTINY
    small, large = _keras_backbone(entry, 32), _keras_backbone(entry, 64)
    dense = [layer for layer in compute._leaf_layers(small) if type(layer).__name__ == "Dense"]
    assert len(dense) == 2 * 18  # two per block, 3 + 3 + 9 + 3 blocks
    assert compute.forward_flops_per_image(large) == 4 * compute.forward_flops_per_image(small)


@pytest.mark.parametrize("name", BACKBONES)
def test_keras_refuses_images_smaller_than_the_recorded_minimum(name):
    """The entry's min_image_size is Keras' own limit: it builds at that side (above) and not below."""
    entry = architectures.get(name)
    with pytest.raises(ValueError, match=f"at least {entry.min_image_size}"):
        _keras_backbone(entry, entry.min_image_size - 1)


def test_each_entry_names_the_weights_file_and_hash_keras_asks_for(monkeypatch):
    """Build each backbone with weights="imagenet" and catch Keras' download request: the file name
    and hash are the entry's, and the hash's algorithm is the one Keras' get_file picks for it
    (sha256 for a 64-digit digest, md5 otherwise)."""
    from keras.src.utils import file_utils

    asked = {}

    class Asked(Exception):
        pass

    def get_file(fname, origin=None, cache_subdir="datasets", file_hash=None, **_):
        asked.update(fname=fname, file_hash=file_hash)
        raise Asked

    monkeypatch.setattr(file_utils, "get_file", get_file)
    for name in TRANSFER:
        entry = architectures.get(name)
        asked.clear()
        with pytest.raises(Asked), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MobileNetV3 warns that 32 px is not its 224
            _keras_backbone(entry, weights="imagenet")
        algorithm = "sha256" if len(asked["file_hash"]) == 64 else "md5"
        assert (asked["fname"], (algorithm, asked["file_hash"])) == (entry.weights_file, entry.weights_hash), name


# --- Weights files: the hash, the backbone, the shapes ---------------------------------------------


def _small_hdf5(path, kernel_shape=(3, 3, 3, 1)):
    """A small HDF5 file in Keras' legacy weights layout, holding one convolution layer."""
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [b"conv1"]
        group = file.create_group("conv1")
        group.attrs["weight_names"] = [b"conv1/kernel:0"]
        group.create_dataset("conv1/kernel:0", data=np.zeros(kernel_shape, "float32"))
    return path


def _digest(path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", TRANSFER)
def test_a_file_named_as_keras_weights_with_another_hash_is_refused_before_keras_loads(tmp_path, name):
    """Named as Keras' ImageNet file but with another hash (a partial or damaged download): one line
    naming the hash algorithm and the digest Keras expects, nothing written, no Keras imported."""
    entry = architectures.get(name)
    weights = _small_hdf5(tmp_path / entry.weights_file)
    out = tmp_path / "run"
    result = run_cli("train", "--model", name, "--profile", "smoke", "--weights", weights, "--out", out)
    algorithm, expected = entry.weights_hash
    assert_one_line_error(result, "--weights", f"not Keras' {entry.short_label} ImageNet file", algorithm, expected)
    assert not out.exists() and not out.with_name("run.incomplete").exists()


@pytest.mark.parametrize("name", ["densenet121", "convnexttiny"])  # one md5 entry, one sha256 entry
def test_the_hash_is_checked_with_the_entrys_algorithm(tmp_path, monkeypatch, name):
    entry = architectures.get(name)
    weights = _small_hdf5(tmp_path / entry.weights_file)
    algorithm = entry.weights_hash[0]
    with pytest.raises(UserError, match=f"{algorithm} {_digest(weights, algorithm)}, expected"):
        architectures.check_weights_file(weights, entry)
    # The same file, had Keras published its digest, passes.
    field = "weights_sha256" if algorithm == "sha256" else "weights_md5"
    right = dataclasses.replace(entry, **{field: _digest(weights, algorithm)})
    monkeypatch.setitem(architectures.ARCHITECTURES, name, right)
    architectures.check_weights_file(weights, right)
    architectures.check_weights_file(weights)  # a plan's check, for no one model
    other = "md5" if algorithm == "sha256" else "sha256"
    # The right digest filed under the other algorithm: hashed by that one, it does not match.
    hashes = {"weights_md5": "", "weights_sha256": "", f"weights_{other}": _digest(weights, algorithm)}
    wrong_algorithm = dataclasses.replace(entry, **hashes)
    monkeypatch.setitem(architectures.ARCHITECTURES, name, wrong_algorithm)
    with pytest.raises(UserError, match="partial or damaged"):
        architectures.check_weights_file(weights, wrong_algorithm)


def test_another_backbones_keras_file_is_refused_by_name(tmp_path):
    weights = _small_hdf5(tmp_path / architectures.DENSENET121.weights_file)
    with pytest.raises(UserError, match="DenseNet121's ImageNet weights, not ConvNeXtTiny's"):
        models.build(config.resolve("convnexttiny", "smoke", weights=str(weights)))


@pytest.mark.parametrize("name", BACKBONES)
def test_a_weights_file_of_the_wrong_shape_is_one_clear_error(tmp_path, name):
    """An HDF5 file whose layers do not fit the backbone: Keras' loader refuses it, in one line."""
    entry = architectures.get(name)
    weights = _small_hdf5(tmp_path / "not-this-backbone.h5")
    with pytest.raises(UserError, match=f"not {entry.short_label} notop weights that fit this model"):
        models.build(config.resolve(name, "smoke", weights=str(weights)))
