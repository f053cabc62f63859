"""The resolution study: the seed's ResNet50 with its 32 px images upsampled 1, 2, 4 or 7 times
(32, 64, 128 and the seed's 224 px), RunConfig `upsampling`: accuracy against counted FLOPs and time.
The factor the profile itself uses is the main run (copied, not trained again).

Smoke form: one seed, factors 1 and 2 only: the smoke profile trains at 32 px, and 128 or 224 px
would take ResNet50 tens of minutes on a 2-core CPU while checking nothing 64 px does not. `quick`
stops at 128 px for the same reason.
"""

from cifarcmp import schema
from cifarcmp.studies.study import Request, Study, Wanted

MODEL = "resnet50"
FACTORS = {"paper": (1, 2, 4, 7), "quick": (1, 2, 4), "smoke": (1, 2)}


def variant(factor: int) -> str:
    return f"{32 * factor} px"


def _runs(request: Request) -> list[Wanted]:
    return [
        Wanted(
            MODEL,
            1.0,
            seed,
            request.root / "resolution" / f"{32 * factor}px" / f"seed-{seed}",
            {"upsampling": factor},
            variant(factor),
        )
        for factor in FACTORS[request.profile]
        for seed in request.seeds_where_spread_is_not_the_point()
    ]


STUDY = Study(
    name="resolution",
    description="ResNet50 at 32, 64, 128 and 224 px (upsampling 1, 2, 4 and the seed's 7)",
    runs=_runs,
    row_rules=schema.STUDY_FIGURES,
    title="Input resolution",
    page="improvements",
    table="cifarcmp.analysis.improvements:resolution_table",
    section="""\
The seed upsampled every 32 px image seven times, to the 224 px ResNet50 was trained on in
ImageNet; the arithmetic grows with the square of the side. Here the same model trains at
other sizes (BiT fine-tunes CIFAR-10 at 128 px), everything else as in the main runs.

{{ table(this.table) }}
""",
)
