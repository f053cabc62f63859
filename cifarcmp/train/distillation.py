"""Knowledge distillation with Keras' own `keras.distillation.Distiller` and `LogitsDistillation`.

The student (the run's own network, normally the seed's CNN, with its 1,250,858 parameters
unchanged) learns from the labels and from a finished run's kept model, the teacher (normally the
fine-tuned ResNet50): loss = alpha x cross-entropy(labels, student) + (1 - alpha) x T^2 x
KL(softmax(teacher logits / T) || softmax(student logits / T)) (Hinton et al. 2015), with
alpha = `distillation_alpha` and T = `distillation_temperature` of the run's config.

LogitsDistillation divides its inputs by T and applies a softmax, so it needs logits, while our
networks end in a softmax. Both are given to the Distiller through `logits`: the network's
log-probabilities, which are its logits up to a constant per image, and softmax at any temperature
ignores such a constant (softmax(log p / T) = softmax(z / T) exactly). So no network is rebuilt
and the student's layers are the run's own: training the Distiller trains them, and the run keeps
the student's weights alone (evaluate.keep_model), which evaluate.kept_model rebuilds like any run's.

The teacher is frozen (the Distiller sets it untrainable) and runs in inference mode; it sees the
same, possibly augmented, training images as the student. The epoch log's `loss` and `val_loss`
(history.csv) are the Distiller's objective above, the quantity trained, and early stopping watches
`val_loss` as in every run; the log also holds its two parts (`student_loss`, `distillation_loss`).
metrics.json's losses are the plain cross-entropy on the labels, computed as for every run. Each epoch's checkpoint holds the whole
Distiller, the teacher's unchanged weights included (about 100 MB for ResNet50): Keras saves a
model's weights whole, and a resumed run then restores exactly what it stopped with.
"""

from __future__ import annotations

import keras
import numpy as np

from cifarcmp.config import RunConfig
from cifarcmp.errors import UserError
from cifarcmp.train import evaluate, teacher

# Probabilities below this are taken as it: log(0) would be -inf. Its logit, -69, after the
# temperature still gives the class a weight of about 1e-10: nothing the loss can tell from zero.
SMALLEST_PROBABILITY = 1e-30


@keras.saving.register_keras_serializable(package="cifarcmp")
class LogProbabilities(keras.layers.Layer):
    """log p of a softmax output: logits up to a constant per image (see the module docstring)."""

    def call(self, probabilities):
        return keras.ops.log(keras.ops.maximum(keras.ops.cast(probabilities, "float32"), SMALLEST_PROBABILITY))


def logits(model: keras.Model) -> keras.Model:
    """`model` with its softmax output turned into logits, sharing every layer (and weight) with it."""
    # float32 whatever the precision policy: in float16 the smallest probability would be 0.
    as_logits = LogProbabilities(dtype="float32", name="log_probabilities")
    return keras.Model(model.inputs, as_logits(model.outputs[0]), name=f"{model.name}_logits")


class StudentDistiller(keras.distillation.Distiller):
    """The Distiller whose weights, as get_weights and set_weights see them, are the student's:
    early stopping keeps and restores the student's best weights, not the frozen teacher's too."""

    def get_weights(self):
        return self.student.get_weights()

    def set_weights(self, weights):
        self.student.set_weights(weights)


def load_teacher(config: RunConfig, data_sha256: str) -> tuple[keras.Model, dict]:
    """The teacher's kept model (hash-checked) and what the student's manifest records of it.

    Loaded before the student is built: building sets Keras' random seed and precision policy,
    and the student's must be the last set, as in a run without a teacher.
    """
    run = teacher.check(config.teacher)
    trained_on = run.manifest["data"].get("sha256")
    if trained_on and trained_on != data_sha256:
        raise UserError(
            f"--teacher {config.teacher}: trained on other data than this run (its data sha256 differs); "
            "give a teacher trained on the same --data"
        )
    return evaluate.kept_model(run), teacher.identity(run)


def distiller(teacher_model: keras.Model, student: keras.Model, config: RunConfig) -> StudentDistiller:
    """The Distiller that trains `student` (built, so a checkpoint can be restored into it before fit)."""
    built = StudentDistiller(
        teacher=logits(teacher_model),
        student=logits(student),
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=config.distillation_temperature,
            # Named as an instance on purpose: LogitsDistillation's default, the string
            # "kl_divergence", becomes a plain function that its KL branch does not recognise
            # (Keras 3.15.1 tests isinstance(loss, KLDivergence)), so the logits go to the KL
            # unsoftened, are clipped to [1e-7, 1], and the loss is 0: the teacher would teach nothing.
            loss=keras.losses.KLDivergence(),
        ),
        student_loss_weight=config.distillation_alpha,
        name="distiller",
    )
    built(np.zeros((1, *student.inputs[0].shape[1:]), dtype="float32"))
    return built
