"""Floating-point operations per image, counted from the model's own layers.

Each Conv2D, DepthwiseConv2D and Dense layer is counted exactly from its kernel and output shape,
as 2 operations (a multiply and an add) per multiply-accumulate, plus one per bias. These layers
hold more than 99% of the arithmetic of both models; element-wise work (BatchNorm, ReLU, pooling,
the ImageNet preprocessing, upsampling) is left out and the count says so. A training step costs
about three forward passes (forward, and two matrix products per layer backward), the usual
approximation (Kaplan et al. 2020); a frozen layer costs only its forward pass, since nothing
before it needs a gradient in our models (the frozen ResNet50 base comes first).
"""

from __future__ import annotations

import math

import keras

COUNTED_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")
BACKWARD_FACTOR = 3  # forward + backward, relative to a forward pass


def forward_flops_per_image(model: keras.Model) -> int:
    return sum(_layer_flops(layer) for layer in _leaf_layers(model))


def training_flops_per_image(model: keras.Model) -> int:
    return sum(_layer_flops(layer) * (BACKWARD_FACTOR if layer.trainable else 1) for layer in _leaf_layers(model))


def _leaf_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _layer_flops(layer) -> int:
    kind = type(layer).__name__
    if kind not in COUNTED_LAYERS:
        return 0
    output_shape = layer.output.shape[1:]
    kernel = layer.kernel.shape
    if kind == "Dense":
        # A Dense layer acts on the last axis at every position of its input: once for a (batch,
        # features) input, H x W times for ConvNeXt's pointwise layers on (batch, H, W, C).
        inputs, units = kernel[-2], kernel[-1]
        return math.prod(output_shape[:-1]) * (2 * inputs * units + (units if layer.use_bias else 0))
    positions = math.prod(output_shape[:-1])  # output pixels (channels last)
    channels_out = output_shape[-1]
    # Conv2D kernel: (kh, kw, in, out); DepthwiseConv2D: (kh, kw, in, multiplier).
    multiply_accumulates_per_output = math.prod(kernel[:-1]) if kind == "Conv2D" else math.prod(kernel[:2])
    bias = channels_out if layer.use_bias else 0
    return positions * (2 * multiply_accumulates_per_output * channels_out + bias)
