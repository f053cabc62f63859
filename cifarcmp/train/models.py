"""The networks of cifarcmp/architectures.py, built in Keras 3's functional API (any backend).

Two families: a `keras.applications` backbone under the seed's transfer head (ResNet50 in the
seed), and the seed's scratch CNN. Both take uint8-valued 32 x 32 x 3 images. Scaling, the
backbone's ImageNet preprocessing and the 7x upsampling are layers of the model rather than steps
of the input pipeline: the images stay uint8 in host memory (154 MB for all of CIFAR-10 instead of
7.5 GB at 224 px as float32) and the expensive work runs on the accelerator. None of these layers
has parameters, so the counts are the seed's: ResNet50 26,215,818 total (53,120 non-trainable
BatchNorm statistics), CNN 1,250,858.

Layers are named explicitly because Keras numbers them per process (`dense`, `dense_1`, ...),
and the report shows these names.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
from keras import layers

from cifarcmp import architectures
from cifarcmp.architectures import Architecture
from cifarcmp.config import RunConfig
from cifarcmp.errors import UserError

IMAGE_SHAPE = (32, 32, 3)
CLASSES = 10


@keras.saving.register_keras_serializable(package="cifarcmp")
class ApplicationPreprocessing(layers.Layer):
    """A backbone's own `keras.applications.<module>.preprocess_input` as a layer (for ResNet50:
    RGB to BGR, minus the ImageNet channel means, the "caffe" convention its weights were trained
    with), so it runs on the accelerator and is saved with the model."""

    def __init__(self, module: str, **kwargs):
        super().__init__(**kwargs)
        self.module = module

    def call(self, images):
        images = keras.ops.cast(images, self.compute_dtype)
        return getattr(keras.applications, self.module).preprocess_input(images)

    def get_config(self) -> dict:
        return {**super().get_config(), "module": self.module}


def build(config: RunConfig) -> keras.Model:
    keras.utils.set_random_seed(config.seed)
    # Keras reads the global policy when a layer is created, so it is set (or reset) before any.
    keras.mixed_precision.set_global_policy(dtype_policy(config.precision))
    entry = architectures.get(config.model)
    if entry.transfer:
        return build_transfer(config, entry)
    return build_cnn(config)


def build_transfer(config: RunConfig, entry: Architecture) -> keras.Model:
    """Input 32x32x3 -> UpSampling2D -> backbone (no top) -> GAP -> Flatten -> 1024 -> 512 -> 10:
    the seed's ResNet50 model, with any `keras.applications` backbone in ResNet50's place."""
    size = config.image_size
    if config.weights == "none":
        base = _application(entry)(include_top=False, weights=None, input_shape=(size, size, 3))
    elif config.weights == "imagenet":
        base = _backbone_imagenet(entry, size)
    else:
        base = _backbone_from_file(entry, config.weights, size)
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = ApplicationPreprocessing(entry.preprocessing, name="imagenet_preprocessing")(inputs)
    # Nearest-neighbour upsampling, as the seed did: the ImageNet filters expect objects at about
    # the scale they have in 224 px images, not 32 px ones.
    x = layers.UpSampling2D(size=config.upsampling, name="upsampling")(x)
    # The seed fine-tuned every layer, with BatchNorm in training mode as Keras does by default for
    # a trainable model. The frozen-feature arm instead freezes the base and calls it with
    # training=False, so BatchNorm keeps its ImageNet statistics: updating them while the
    # convolutions stay fixed would shift every feature the head learns from.
    if config.freeze_base:
        base.trainable = False
        x = base(x, training=False)
    else:
        x = base(x)
    x = layers.GlobalAveragePooling2D(name="global_average_pooling")(x)
    x = layers.Flatten(name="flatten")(x)  # a no-op after pooling, kept because the seed has it
    x = layers.Dense(1024, activation="relu", name="dense_1024")(x)
    x = layers.Dense(512, activation="relu", name="dense_512")(x)
    # float32 output under mixed precision, so the softmax and the loss stay stable.
    outputs = layers.Dense(CLASSES, activation="softmax", dtype="float32", name="classification")(x)
    return keras.Model(inputs, outputs, name=f"{entry.name}_transfer")


def _application(entry: Architecture):
    return getattr(keras.applications, entry.application)


def _backbone_imagenet(entry: Architecture, size: int) -> keras.Model:
    """The backbone with Keras' ImageNet notop weights, downloaded once and checked by Keras' md5."""
    try:
        return _application(entry)(include_top=False, weights="imagenet", input_shape=(size, size, 3))
    except Exception as error:  # get_file wraps network failures in a bare Exception
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"cannot download the ImageNet weights ({reason[:200]}); on a machine without internet pass "
            f"--weights PATH to {entry.weights_file} (make report WEIGHTS=PATH), or --weights none"
        ) from None


def _backbone_from_file(entry: Architecture, path: str, size: int) -> keras.Model:
    file = Path(path).expanduser()
    wanted = f"{entry.short_label} notop weights that fit this model"
    if not file.is_file():
        raise UserError(f"--weights {path}: no such file; use imagenet, none or a path to {entry.weights_file}")
    architectures.check_weights_file(file, entry)  # Keras' own file, damaged or another backbone's
    try:
        # Keras loads a file with missing layers with only a warning, leaving those layers random;
        # for a transfer-learning run that is a silent failure, so any warning here is an error.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            base = _application(entry)(include_top=False, weights=str(file), input_shape=(size, size, 3))
    except Exception as error:  # h5py, shape and layer-count mismatches all land here
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"--weights {path}: not {wanted} ({first_line[:200]})") from None
    skipped = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if skipped:
        raise UserError(f"--weights {path}: not {wanted} ({skipped[0][:200]})")
    return base


def build_cnn(config: RunConfig) -> keras.Model:
    """Two conv blocks (32, 64 filters) with max-pooling and dropout, then Dense 512 and Dense 10."""
    first_dropout, second_dropout, dense_dropout = config.dropout
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Rescaling(1 / 255, name="rescaling")(inputs)
    x = layers.Conv2D(32, 3, padding="same", name="conv_32_same")(x)
    x = layers.Activation("relu", name="relu_1")(x)
    x = layers.Conv2D(32, 3, padding="valid", name="conv_32_valid")(x)
    x = layers.Activation("relu", name="relu_2")(x)
    x = layers.MaxPooling2D(2, name="max_pool_1")(x)
    x = layers.Dropout(first_dropout, name="dropout_1")(x)
    x = layers.Conv2D(64, 3, padding="same", name="conv_64_same")(x)
    x = layers.Activation("relu", name="relu_3")(x)
    x = layers.Conv2D(64, 3, padding="valid", name="conv_64_valid")(x)
    x = layers.Activation("relu", name="relu_4")(x)
    x = layers.MaxPooling2D(2, name="max_pool_2")(x)
    x = layers.Dropout(second_dropout, name="dropout_2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(512, name="dense_512")(x)
    x = layers.Activation("relu", name="relu_5")(x)
    x = layers.Dropout(dense_dropout, name="dropout_3")(x)
    x = layers.Dense(CLASSES, name="dense_10")(x)
    # float32 output under mixed precision, so the softmax and the loss stay stable.
    outputs = layers.Activation("softmax", dtype="float32", name="classification")(x)
    return keras.Model(inputs, outputs, name="scratch_cnn")


def dtype_policy(precision: str) -> str:
    """Keras' policy for a run's precision: bfloat16 where the GPU computes it natively (compute
    capability 8.0, Ampere, and later), else float16, which needs loss scaling (Keras' compile
    adds it for this policy). A CPU gets float16 too: allowed, but slower than float32 there."""
    if precision == "float32":
        return "float32"
    capability = gpu_compute_capability()
    return "mixed_bfloat16" if capability is not None and capability >= (8, 0) else "mixed_float16"


def gpu_compute_capability() -> tuple[int, int] | None:
    """The first GPU's CUDA compute capability under the active backend, or None without one."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        return details.get("compute_capability")
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        capability = getattr(device, "compute_capability", None) if device.platform == "gpu" else None
        return tuple(int(part) for part in capability.split(".")) if capability else None
    if backend == "torch":
        import torch

        return torch.cuda.get_device_capability() if torch.cuda.is_available() else None
    return None


def precision_note(model: keras.Model) -> str:
    """The run's closing-line note on its precision: nothing for float32."""
    policy = model.dtype_policy.name
    if policy == "float32":
        return ""
    if gpu_compute_capability() is None:
        return f"; precision {policy} (Keras policy) on a CPU, where it is slower than float32"
    return f"; precision {policy} (Keras policy)"


def compile_for_training(model: keras.Model, config: RunConfig, from_logits: bool = False) -> None:
    """The seed's SGD and cross-entropy. On class indices, as the seed; on one-hot labels where
    the run's augmentation mixes them (MixUp), the same loss in its categorical form, which takes
    soft labels. `from_logits`: the model outputs logits (the Distiller, distillation.py)."""
    soft = config.augmentation == "mixup"  # augmentation.soft_labels, without importing the pipeline here
    if soft:
        loss = keras.losses.CategoricalCrossentropy(from_logits=from_logits)
        accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
    elif from_logits:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    else:  # the seed's, as its code names them
        loss, accuracy = "sparse_categorical_crossentropy", "accuracy"
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=config.learning_rate, momentum=config.momentum),
        loss=loss,
        metrics=[accuracy],
    )


def parameter_counts(model: keras.Model) -> dict:
    trainable = sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)
    non_trainable = sum(int(keras.ops.size(weight)) for weight in model.non_trainable_weights)
    return {"total": trainable + non_trainable, "trainable": trainable, "non_trainable": non_trainable}


def summary(model: keras.Model) -> dict:
    """The model summary as data: one row per top-level layer, and the totals."""
    rows = []
    for layer in model.layers:
        shape = layer.output.shape if hasattr(layer, "output") else None
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": str(tuple(shape)) if shape is not None else "",
                "params": int(layer.count_params()) if layer.built else 0,
                "trainable": bool(layer.trainable),
            }
        )
    counts = parameter_counts(model)
    return {
        "name": model.name,
        "total_params": counts["total"],
        "trainable_params": counts["trainable"],
        "non_trainable_params": counts["non_trainable"],
        "layers": rows,
    }
