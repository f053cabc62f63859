"""The seed's two architectures: exact parameter counts, and local weights files."""

from __future__ import annotations

import numpy as np
import pytest

from cifarcmp import config
from cifarcmp.errors import UserError
from cifarcmp.train import models


def test_resnet50_parameter_counts_are_the_seeds():
    model = models.build(config.resolve("resnet50", "paper", weights="none"))
    summary = models.summary(model)
    assert (summary["total_params"], summary["trainable_params"], summary["non_trainable_params"]) == (
        26_215_818,
        26_162_698,
        53_120,
    )
    assert model.input_shape == (None, 32, 32, 3)
    layer_names = [layer["name"] for layer in summary["layers"]]
    assert layer_names[-1] == "classification"
    assert (
        next(row for row in summary["layers"] if row["name"] == "upsampling")["output_shape"] == "(None, 224, 224, 3)"
    )
    assert sum(row["params"] for row in summary["layers"]) == 26_215_818


def test_cnn_parameter_count_is_the_seeds():
    summary = models.summary(models.build(config.resolve("cnn", "paper")))
    assert summary["total_params"] == summary["trainable_params"] == 1_250_858
    types = [row["type"] for row in summary["layers"]]
    assert types.count("Conv2D") == 4 and types.count("Dropout") == 3 and types.count("MaxPooling2D") == 2


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_resnet50_loads_a_local_weights_file(tmp_path):
    import keras

    base = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "resnet50_notop.weights.h5"
    base.save_weights(path)
    model = models.build(config.resolve("resnet50", "smoke", weights=str(path)))
    loaded = model.get_layer("resnet50").get_weights()
    for expected, actual in zip(base.get_weights(), loaded):
        np.testing.assert_array_equal(expected, actual)


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_weights_file_with_the_wrong_shapes_is_a_clear_error(tmp_path):
    path = tmp_path / "cnn.weights.h5"
    models.build(config.resolve("cnn", "smoke")).save_weights(path)
    with pytest.raises(UserError, match="not ResNet50 notop weights"):
        models.build(config.resolve("resnet50", "smoke", weights=str(path)))


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        models.build(config.resolve("resnet50", "smoke", weights=str(tmp_path / "absent.h5")))


def test_profiles_record_every_deviation_from_the_paper():
    assert config.resolve("resnet50", "paper").deviations == ()
    assert config.resolve("cnn", "paper").deviations == ()
    quick = config.resolve("resnet50", "quick")
    assert quick.data == "cifar10" and any(d.startswith("upsampling") for d in quick.deviations)
    assert quick.image_size == 64
    # The seed kept lr at 0.01 for all 6 epochs: our constant-then-decay schedule must too.
    assert config.resolve("resnet50", "paper").to_dict()["lr_schedule"] == [0.01] * 6
    decayed = config.resolve("cnn", "paper").to_dict()["lr_schedule"]
    assert decayed[9] == 0.01 and decayed[10] == pytest.approx(0.01 * np.exp(-0.1))


def test_unknown_model_or_profile_is_refused():
    with pytest.raises(UserError, match="unknown model"):
        config.resolve("vgg16", "paper")
    with pytest.raises(UserError, match="unknown profile"):
        config.resolve("cnn", "fast")


def test_unreachable_imagenet_weights_say_how_to_run_offline(monkeypatch, tmp_path):
    from keras.src.applications import resnet

    monkeypatch.setattr(resnet, "BASE_WEIGHTS_PATH", "http://127.0.0.1:9/")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(UserError, match="cannot download the ImageNet weights.*--weights PATH"):
        models.build(config.resolve("resnet50", "smoke", weights="imagenet"))


@pytest.fixture
def float32_after():
    import keras

    yield
    keras.mixed_precision.set_global_policy("float32")  # the policy is global: leave none behind


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
@pytest.mark.parametrize("model_name, total", [("cnn", 1_250_858), ("resnet50", 26_215_818)])
def test_mixed_precision_keeps_the_parameters_and_a_float32_output(float32_after, model_name, total):
    mixed = config.resolve(model_name, "smoke", precision="mixed")
    model = models.build(mixed)
    assert model.dtype_policy.name in ("mixed_float16", "mixed_bfloat16")
    assert models.parameter_counts(model)["total"] == total
    assert model.get_layer("classification").dtype_policy.name == "float32"
    assert model.predict(np.zeros((2, 32, 32, 3), np.uint8), verbose=0).dtype == np.float32
    assert "precision: 'mixed' instead of 'float32'" in mixed.deviations
    # Building a float32 run afterwards resets the global policy.
    assert models.build(config.resolve(model_name, "smoke")).dtype_policy.name == "float32"


def test_precision_defaults_to_float32_and_rejects_others():
    assert config.resolve("resnet50", "paper").precision == "float32"
    with pytest.raises(UserError, match="unknown precision 'half'.*float32, mixed"):
        config.resolve("cnn", "paper", precision="half")


def test_a_keras_applications_backbone_is_one_registry_entry(monkeypatch, tmp_path):
    """A new backbone needs its entry and nothing else: config, building, the head, parameter
    counts, FLOPs and Grad-CAM follow from it. (MobileNetV3Small: small enough to build here.)"""
    import keras

    from cifarcmp import architectures
    from cifarcmp.train import compute, gradcam

    entry = architectures.Architecture(
        name="mobilenetv3small",
        label="MobileNetV3Small (fine-tuned)",
        short_label="MobileNetV3Small",
        colour="tab:red",
        family=architectures.TRANSFER,
        gradcam_layer="MobileNetV3Small",
        application="MobileNetV3Small",
        preprocessing="mobilenet_v3",
        protocol={"epochs": 6},
        profile_changes=architectures.RESNET50.profile_changes,
    )
    monkeypatch.setitem(architectures.ARCHITECTURES, entry.name, entry)
    run_config = config.resolve(entry.name, "smoke")
    assert run_config.image_size == 32 and "weights: 'none' instead of ImageNet" in run_config.deviations
    model = models.build(run_config)
    base = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    features = base.output.shape[-1]
    head = (features * 1024 + 1024) + (1024 * 512 + 512) + (512 * 10 + 10)
    assert models.parameter_counts(model)["total"] == base.count_params() + head
    assert compute.forward_flops_per_image(model) > compute.forward_flops_per_image(base)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 3)).astype("float32")
    maps, predicted = gradcam.heatmaps(model, entry.gradcam_layer, images)
    assert maps.shape[0] == 2 and predicted.shape == (2,)
    # Not one of the seed's two, so no report trains it unless a study asks for it.
    from cifarcmp import plan

    planned = plan.build(plan.PlanSettings("smoke", results_root=tmp_path))
    assert [run.config.model for run in planned.runs] == ["resnet50", "cnn"]


def test_resnet50_inputs_get_the_caffe_preprocessing_its_imagenet_weights_expect():
    """keras.applications.resnet50.preprocess_input, inside the model: RGB to BGR, minus the
    ImageNet channel means (103.939, 116.779, 123.68 in BGR order)."""
    pixel = np.array([[[[10, 20, 30]]]], dtype="uint8")
    layer = models.ApplicationPreprocessing("resnet50")
    np.testing.assert_allclose(np.asarray(layer(pixel))[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)
