"""The learning-rate study: the seed fixed plain SGD at 0.01 for both models; here a grid of initial
rates (LEARNING_RATES=, `--learning-rates`; 0.001, 0.003, 0.01, 0.03, 0.1 by default), everything else
the seed's. The rate is chosen per model on the validation split alone; the report reads the test
accuracy of the chosen rate only (analysis.improvements). A grid of plan runs, not a tuner's loop,
so SLURM trains the rates in parallel. The seed's 0.01 is the main run, copied.

Smoke form: one seed, ResNet50 only (its smoke run costs about half the CNN's) and two rates, the
seed's 0.01 (the main run, copied: it costs nothing) and 0.1, unless LEARNING_RATES= says otherwise:
enough for the choice on validation to run end to end, within the 15 minutes a smoke build of every
study may train on 2 cores.
"""

import math

from cifarcmp import schema
from cifarcmp.errors import UserError
from cifarcmp.studies.study import Request, Study, Wanted

MODELS = ("resnet50", "cnn")
RATES = (0.001, 0.003, 0.01, 0.03, 0.1)
SMOKE_RATES = (0.01, 0.1)


def parse_rates(text: str) -> tuple[float, ...]:
    """LEARNING_RATES= / --learning-rates: comma-separated positive numbers."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    rates = []
    for part in parts:
        try:
            rate = float(part)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            raise UserError(f"learning rate {part!r} is not a positive number; use e.g. 0.001,0.01,0.1")
        rates.append(rate)
    if not rates:
        raise UserError(f"learning rates {text!r}: none given; use e.g. 0.001,0.01,0.1")
    return tuple(sorted(set(rates)))


def variant(rate: float) -> str:
    return f"lr {rate:g}"


def chosen(request: Request) -> tuple[float, ...]:
    return request.learning_rates or (SMOKE_RATES if request.smoke else RATES)


def _runs(request: Request) -> list[Wanted]:
    return [
        Wanted(
            model,
            1.0,
            seed,
            request.root / "learning-rate" / model / f"lr-{rate:g}" / f"seed-{seed}",
            {"learning_rate": rate},
            variant(rate),
        )
        for model in (MODELS[:1] if request.smoke else MODELS)
        for rate in chosen(request)
        for seed in request.seeds_where_spread_is_not_the_point()
    ]


STUDY = Study(
    name="learning-rate",
    description="both models at initial SGD learning rates 0.001 to 0.1, the rate chosen on the validation split alone",
    runs=_runs,
    row_rules=schema.STUDY_FIGURES,
    title="Learning rate",
    page="improvements",
    table="cifarcmp.analysis.improvements:learning_rate_table",
    section="""\
The seed used SGD at 0.01 for both models and gives no reason. Each rate of the grid trains the
models in the table below, with every other setting as in the main runs; each model's rate is the one with the highest mean
validation accuracy, and only that rate's test accuracy is read, so the test set plays no part in
the choice. The other rates show their validation accuracy only.

{{ table(this.table) }}
""",
)
