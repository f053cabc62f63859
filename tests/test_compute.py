"""Counted FLOPs and Grad-CAM against values worked out by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from cifarcmp import architectures, config
from cifarcmp.train import compute, gradcam, models


def test_cnn_flops_match_a_hand_count():
    # Output pixels x (2 x kernel volume x filters + biases), then Dense 2 x in x out + out.
    by_hand = (
        32 * 32 * (2 * 3 * 3 * 3 * 32 + 32)
        + 30 * 30 * (2 * 3 * 3 * 32 * 32 + 32)
        + 15 * 15 * (2 * 3 * 3 * 32 * 64 + 64)
        + 13 * 13 * (2 * 3 * 3 * 64 * 64 + 64)
        + (2 * 2304 * 512 + 512)
        + (2 * 512 * 10 + 10)
    )
    model = models.build(config.resolve("cnn", "paper"))
    assert compute.forward_flops_per_image(model) == by_hand
    assert compute.training_flops_per_image(model) == 3 * by_hand


def test_a_convnext_block_counts_its_pointwise_dense_layers_at_every_position():
    """ConvNeXt's block (Liu et al. 2022): depthwise 7x7, LayerNorm, then two Dense layers on the
    4-D feature map (pointwise, 4x expansion). Each Dense acts at all H x W positions."""
    height, width, channels = 14, 14, 96
    inputs = keras.Input((height, width, channels))
    x = layers.DepthwiseConv2D(7, padding="same")(inputs)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    x = layers.Dense(4 * channels)(x)
    x = layers.Activation("gelu")(x)
    x = layers.Dense(channels)(x)
    model = keras.Model(inputs, layers.Add()([inputs, x]))
    positions = height * width
    by_hand = (
        positions * (2 * 7 * 7 * channels + channels)  # depthwise: 49 multiply-adds per output, plus bias
        + positions * (2 * channels * 4 * channels + 4 * channels)  # pointwise expansion
        + positions * (2 * 4 * channels * channels + channels)  # pointwise projection
    )
    assert compute.forward_flops_per_image(model) == by_hand
    # The keras.applications block itself, as ConvNeXtTiny builds it, counts the same way.
    tiny = keras.applications.ConvNeXtTiny(include_top=False, weights=None, input_shape=(32, 32, 3))
    dense = [layer for layer in compute._leaf_layers(tiny) if type(layer).__name__ == "Dense"]
    first = dense[0]  # stage 1's first pointwise layer: 96 -> 384 channels on an 8 x 8 map
    assert compute._layer_flops(first) == 8 * 8 * (2 * 96 * 384 + 384)


def test_resnet50_flops_agree_with_the_published_figure():
    # He et al. (2016), table 1: 3.8 x 10^9 multiply-adds for ResNet-50 at 224 px.
    model = models.build(config.resolve("resnet50", "paper", weights="none"))
    multiply_adds = compute.forward_flops_per_image(model) / 2
    assert multiply_adds == pytest.approx(3.8e9, rel=0.03)


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_a_frozen_base_costs_only_its_forward_pass():
    fine_tuned = models.build(config.resolve("resnet50", "smoke"))
    frozen = models.build(config.resolve_arm("resnet50-frozen", "smoke"))
    forward = compute.forward_flops_per_image(frozen)
    assert forward == compute.forward_flops_per_image(fine_tuned)
    head = (2 * 2048 * 1024 + 1024) + (2 * 1024 * 512 + 512) + (2 * 512 * 10 + 10)
    assert compute.training_flops_per_image(frozen) == forward + 2 * head
    assert compute.training_flops_per_image(fine_tuned) == 3 * forward


def test_gradcam_equals_class_activation_mapping_for_a_linear_head():
    # With global average pooling then one Dense layer, the gradient of the class score is
    # W[:, c] / (h w) at every position: Grad-CAM is CAM (Zhou et al. 2016), computed directly.
    keras.utils.set_random_seed(0)
    image = keras.Input(shape=(8, 8, 3))
    features = layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(image)
    pooled = layers.GlobalAveragePooling2D()(features)
    outputs = layers.Dense(3, activation="softmax", name="scores")(pooled)
    model = keras.Model(image, outputs)
    images = np.random.default_rng(0).uniform(0, 1, size=(5, 8, 8, 3)).astype("float32")

    maps, predicted = gradcam.heatmaps(model, "features", images)

    feature_maps = keras.Model(image, features).predict(images, verbose=0)
    probabilities = model.predict(images, verbose=0)
    np.testing.assert_array_equal(predicted, probabilities.argmax(axis=1))
    kernel = model.get_layer("scores").kernel.numpy()
    for index, label in enumerate(predicted):
        cam = np.maximum((feature_maps[index] * kernel[:, label]).sum(axis=-1), 0)
        expected = cam / cam.max() if cam.max() > 0 else cam
        np.testing.assert_allclose(maps[index], expected, rtol=1e-4, atol=1e-5)


def test_gradcam_on_both_seed_models_has_the_expected_grid():
    images = np.random.default_rng(1).integers(0, 256, size=(3, 32, 32, 3)).astype("float32")
    cnn = models.build(config.resolve("cnn", "smoke"))
    maps, _ = gradcam.heatmaps(cnn, architectures.CNN.gradcam_layer, images)
    assert maps.shape == (3, 13, 13) and maps.min() >= 0 and maps.max() <= 1
    resnet = models.build(config.resolve("resnet50", "smoke", upsampling=2))
    maps, _ = gradcam.heatmaps(resnet, architectures.RESNET50.gradcam_layer, images)
    assert maps.shape == (3, 2, 2)
