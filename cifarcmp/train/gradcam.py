"""Grad-CAM (Selvaraju et al. 2017) heat maps for a trained model, computed at the end of training.

The heat map of an image for class c weighs the feature maps A_k of the last convolutional stage
by the mean gradient of the class score with respect to them, sums, and keeps the positive part:
ReLU(sum_k mean(dy_c/dA_k) * A_k), scaled to [0, 1]. y_c is the class *score* before the
softmax, as in the paper (the softmax couples every class into the gradient). We explain the
predicted class.

Every model is a chain of layers at the top level, so it splits into a feature part (input -> the
last convolutional stage, its architecture's `gradcam_layer`) and a head (the layers after it); the gradient of the head
with respect to its input is the one backend-specific step, written for each Keras backend.
"""

from __future__ import annotations

import keras
import numpy as np


def heatmaps(model: keras.Model, layer_name: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heat maps (N x h x w, in [0, 1]) at `layer_name` for the predicted classes, and those classes."""
    feature_model, head = split_at(model, layer_name)
    features = keras.ops.convert_to_numpy(feature_model(images, training=False))
    scores = keras.ops.convert_to_numpy(head(features, training=False))
    predicted = scores.argmax(axis=1)  # the softmax keeps the order: the model's prediction
    gradients = _class_score_gradients(head, features, predicted)
    weights = gradients.mean(axis=(1, 2), keepdims=True)  # one weight per feature map
    maps = np.maximum((weights * features).sum(axis=-1), 0)
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0).astype(np.float32), predicted


def split_at(model: keras.Model, layer_name: str) -> tuple[keras.Model, keras.Model]:
    """Two models sharing the trained layers: input -> `layer_name`, and the layers after it.

    Built by calling the top-level layers again on new inputs: a nested model (ResNet50's base)
    exposes only its own graph's output, not the node it makes in the outer model.
    """
    layers = model.layers[1:]  # after the InputLayer
    position = [layer.name for layer in layers].index(layer_name)
    image = keras.Input(shape=tuple(model.input_shape[1:]))
    x = image
    for layer in layers[: position + 1]:
        x = layer(x)
    feature_model = keras.Model(image, x)
    features = keras.Input(shape=tuple(x.shape[1:]))
    y = features
    for layer in layers[position + 1 :]:
        y = _without_softmax(layer)(y) if layer is layers[-1] else layer(y)
    return feature_model, keras.Model(features, y)


def _without_softmax(layer):
    """The last layer giving class scores instead of probabilities (sharing the trained weights)."""
    if isinstance(layer, keras.layers.Activation):
        return keras.layers.Identity()
    if isinstance(layer, keras.layers.Dense):
        scores = keras.layers.Dense(layer.units, activation=None)
        scores.build((None, layer.kernel.shape[0]))
        scores.set_weights(layer.get_weights())
        return scores
    return layer


def _class_score_gradients(head: keras.Model, features: np.ndarray, classes: np.ndarray) -> np.ndarray:
    backend = keras.backend.backend()
    selector = np.eye(head.output.shape[-1], dtype=np.float32)[classes]
    if backend == "tensorflow":
        import tensorflow as tf

        inputs = tf.convert_to_tensor(features)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = tf.reduce_sum(head(inputs, training=False) * selector)
        return tape.gradient(score, inputs).numpy()
    if backend == "jax":
        import jax

        def score(inputs):
            return (head(inputs, training=False) * selector).sum()

        return np.asarray(jax.grad(score)(features))
    if backend == "torch":
        import torch

        # convert_to_tensor puts the features on the device Keras computes on (CPU or GPU).
        inputs = keras.ops.convert_to_tensor(features).detach().requires_grad_(True)
        score = (head(inputs, training=False) * torch.as_tensor(selector, device=inputs.device)).sum()
        score.backward()
        return inputs.grad.detach().cpu().numpy()
    raise ValueError(f"Grad-CAM is not written for the {backend} backend")


def pick_images(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Positions of the first `per_class` images of every class (deterministic)."""
    return np.concatenate([np.flatnonzero(labels == label)[:per_class] for label in range(10)])
