"""The distillation study: the seed's scratch CNN (the same 1,250,858 parameters) trained with the
main runs' ResNet50 (fine-tuned, in the paper profile) of the same seed as its teacher (RunConfig `teacher`: that main run's folder;
the training stage distils its logits with keras.distillation.Distiller). Beside it, the CNN and
the ResNet50 trained as the seed did (the main runs, copied): how much of the gap the teacher
closes, and what the student costs at inference against the teacher.

A student's run waits until its teacher has finished (the plan's `waiting` status).

Smoke form: one seed: one student run checks the teacher-student path end to end.
"""

from cifarcmp import schema
from cifarcmp.studies.study import Request, Study, Wanted

STUDENT, TEACHER = "cnn", "resnet50"
DISTILLED = "distilled from ResNet50"
ALONE = "trained alone (the seed's)"


def teacher_folder(request: Request, seed: int):
    """The teacher of a seed's student: the main ResNet50 run of that seed."""
    return request.main / TEACHER / f"seed-{seed}"


def _runs(request: Request) -> list[Wanted]:
    wanted = []
    for seed in request.seeds_where_spread_is_not_the_point():
        folder = request.root / "distillation"
        wanted += [
            Wanted(TEACHER, 1.0, seed, folder / "teacher" / f"seed-{seed}", variant=ALONE),
            Wanted(STUDENT, 1.0, seed, folder / "alone" / f"seed-{seed}", variant=ALONE),
            Wanted(
                STUDENT,
                1.0,
                seed,
                folder / "distilled" / f"seed-{seed}",
                {"teacher": str(teacher_folder(request, seed))},
                DISTILLED,
            ),
        ]
    return wanted


STUDY = Study(
    name="distillation",
    description="the scratch CNN trained with the main runs' ResNet50 (fine-tuned, in the paper profile) of the same seed as its teacher "
    "(knowledge distillation on logits)",
    runs=_runs,
    row_rules=schema.STUDY_FIGURES,
    title="Distillation: the CNN taught by ResNet50",
    page="improvements",
    table="cifarcmp.analysis.improvements:distillation_table",
    section="""\
The seed asks for model compression. Here the CNN, unchanged, learns from the labels and from the
logits of the main runs' ResNet50 of the same seed on each training image (Keras' `Distiller`); only the CNN is kept,
so its inference cost is the CNN's. The share of the gap closed is the student's gain over the CNN
trained alone, divided by the teacher's lead over it. (Keras' `Model.quantize` quantises only
Dense layers, so it is no way to compress a convolutional network and is not tried.)

{{ table(this.table) }}
""",
)
