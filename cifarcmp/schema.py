"""The results contract as JSON Schema (Draft 2020-12), checked with the `jsonschema` library.

Every JSON file of a run, and every row of history.csv, is checked against a schema below when it
is read, so a value that reaches the report has the type, range and shape the report expects: a
tampered or damaged file is refused with one line naming the file and the field, never shown as
"nan" or a traceback. Fields a schema does not name are allowed, so a newer writer may add some.

config.json's schema is made from `RunConfig` itself: each of its fields is a property of the
type the dataclass declares, so a field added to the configuration is part of the contract at
once; `CONFIG_LIMITS` adds the ranges and choices the types cannot say.

Two departures from plain JSON Schema, both for the report's sake: a "number" is finite (JSON
parsers accept NaN and 1e400, which would reach a page as "nan" or "inf"), and an "integer" is an
int, not 2.0. Formats `printable`, `timestamp` and `class-name` are checked (FormatChecker).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import fields
from pathlib import Path

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from cifarcmp.config import ARMS, AUGMENTATIONS, MODELS, PROFILES, RunConfig
from cifarcmp.errors import UserError
from cifarcmp.text import class_name_problem

CLASSES = 10

# The building blocks -------------------------------------------------------------------------


def number(
    minimum: float = 0, maximum: float | None = None, exclusive_minimum: float | None = None, title: str = "a number"
) -> dict:
    """A finite number in a range; `title` is what an error line says was expected."""
    schema = {"type": "number", "title": title}
    if exclusive_minimum is None:
        schema["minimum"] = minimum
    if exclusive_minimum is not None:
        schema["exclusiveMinimum"] = exclusive_minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


FRACTION = number(0, 1, title="a fraction")
NON_NEGATIVE = number(0)
POSITIVE_NUMBER = number(exclusive_minimum=0)
COUNT = {"type": "integer", "minimum": 0}
POSITIVE = {"type": "integer", "minimum": 1}
BOOLEAN = {"type": "boolean"}


def text(limit: int = 200, minimum: int = 0, choices: tuple[str, ...] = (), printable: bool = True) -> dict:
    """A string of up to `limit` characters, printable (no newlines or control characters) unless told."""
    if choices:
        return {"type": "string", "enum": list(choices)}
    schema = {"type": "string", "minLength": minimum, "maxLength": limit}
    return {**schema, "format": "printable"} if printable else schema


TIMESTAMP = {"type": "string", "maxLength": 64, "format": "timestamp"}
CLASS_NAME = {"type": "string", "format": "class-name"}


def nullable(schema: dict) -> dict:
    """`schema`, or null (JSON's null, which a writer uses for 'not known')."""
    return {**schema, "type": [schema["type"], "null"]}


def listing(items: dict, length: int | None = None, minimum: int = 0, limit: int = 100_000) -> dict:
    if length is not None:
        minimum = limit = length
    return {"type": "array", "items": items, "minItems": minimum, "maxItems": limit}


def mapping(values: dict, limit: int = 100) -> dict:
    """An object of any keys (short text) whose values satisfy `values`."""
    return {
        "type": "object",
        "maxProperties": limit,
        "propertyNames": {"maxLength": 64},
        "additionalProperties": values,
    }


def record(required: dict, optional: dict | None = None) -> dict:
    """An object holding every field of `required`, and those of `optional` when present."""
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": list(required)}


# The files of a run --------------------------------------------------------------------------

# What RunConfig's types cannot say. Fields not listed get their type's plain rule.
CONFIG_LIMITS = {
    "model": text(choices=tuple(MODELS)),
    "arm": text(choices=("", *ARMS)),
    "profile": text(choices=tuple(PROFILES)),
    "data": text(1000),
    "weights": text(1000),
    "precision": text(choices=("float32", "mixed")),
    "learning_rate": NON_NEGATIVE,
    "momentum": NON_NEGATIVE,
    "lr_decay_per_epoch": NON_NEGATIVE,
    "batch_size": POSITIVE,
    "epochs": POSITIVE,
    "train_fraction": number(1e-9, 1),
    "upsampling": POSITIVE,
    "dropout": listing(FRACTION, limit=10),
    "deviations": listing(text(1000), limit=100),
    "augmentation": text(choices=AUGMENTATIONS),
    "teacher": text(1000),
    "distillation_temperature": POSITIVE_NUMBER,
    "distillation_alpha": FRACTION,
}
# Fields runs from before they existed lack; every other field of RunConfig is required.
CONFIG_ADDED_LATER = (
    "arm",
    "data",
    "weights",
    "train_fraction",
    "freeze_base",
    "upsampling",
    "dropout",
    "precision",
    "augmentation",
    "teacher",
    "distillation_temperature",
    "distillation_alpha",
)
_TYPES = {"str": text(), "int": COUNT, "float": NON_NEGATIVE, "bool": BOOLEAN}


def _config_schema() -> dict:
    properties = {}
    for item in fields(RunConfig):
        kind = item.type if isinstance(item.type, str) else item.type.__name__
        properties[item.name] = CONFIG_LIMITS.get(item.name) or _TYPES[kind]
    derived = {"image_size": POSITIVE, "lr_schedule": listing(NON_NEGATIVE, minimum=1)}
    optional = {name: properties.pop(name) for name in CONFIG_ADDED_LATER}
    return record({**properties, **derived}, optional)


CONFIG = _config_schema()
DEVICE = record({"kind": text(16, 1), "name": text(200, 1)}, {"count": nullable(COUNT)})
MANIFEST = record(
    {
        "status": text(choices=("complete",)),
        # git_state() writes null for both where git is missing: the report says "unknown".
        "git": record({"commit": nullable(text(64))}, {"dirty": nullable(BOOLEAN)}),
        "versions": mapping(nullable(text(64))),
        "device": DEVICE,
        "finished_at": TIMESTAMP,
        "data": record(
            {
                "source": text(1000, 1),
                "synthetic": BOOLEAN,
                "class_names": listing(CLASS_NAME, length=CLASSES),
                "counts": record({split: listing(COUNT, length=CLASSES) for split in ("train", "validation", "test")}),
            },
            {
                "sha256": text(64),
                "verified": BOOLEAN,
                "description": text(2000, printable=False),
                # How data that is not the official release differs from it (data.release).
                "departures": listing(text(300, 1), limit=20),
            },
        ),
    },
    {
        "schema_version": POSITIVE,
        "started_at": TIMESTAMP,
        # The kept model (train/evaluate.py); runs from before models were kept have none.
        "model": record(
            {"file": text(choices=("model.weights.h5",)), "sha256": text(64, 64), "bytes": POSITIVE},
            {"keras": text(64)},
        ),
        # A distilled run's teacher (train/distillation.py): its folder, what it is, and the hash
        # of the kept model that taught, so the report can trace it to one trained network.
        "teacher": record(
            {"run": text(1000, 1), "model_sha256": text(64, 64)},
            {"model": text(64), "seed": COUNT, "test_accuracy": FRACTION, "forward_flops_per_image": POSITIVE_NUMBER},
        ),
    },
)
SUMMARY = record(
    {
        "total_params": COUNT,
        "trainable_params": COUNT,
        "non_trainable_params": COUNT,
        "layers": listing(
            record(
                {
                    "name": text(200),
                    "type": text(200),
                    "output_shape": text(200),
                    "params": COUNT,
                    "trainable": BOOLEAN,
                }
            ),
            minimum=1,
            limit=10_000,
        ),
    },
    {"name": text()},
)
PARAMETERS = record({"total": COUNT, "trainable": COUNT, "non_trainable": COUNT})
METRICS = record(
    {
        "train_accuracy": FRACTION,
        "train_loss": NON_NEGATIVE,
        "val_accuracy": FRACTION,
        "val_loss": NON_NEGATIVE,
        "test_accuracy": FRACTION,
        "test_loss": NON_NEGATIVE,
        "best_epoch": POSITIVE,
        "epochs_run": POSITIVE,
        "stopped_early": BOOLEAN,
        "wall_seconds": NON_NEGATIVE,
        "train_images_per_second": NON_NEGATIVE,
        "test_images": POSITIVE,
        "parameters": PARAMETERS,
    },
    {
        "schema_version": POSITIVE,
        "best_epoch_running_train_accuracy": FRACTION,
        "train_seconds": NON_NEGATIVE,
        "train_images": COUNT,
        "validation_images": COUNT,
        "train_evaluated_images": COUNT,
        # Runs from before FLOPs were counted have none; the report says "not recorded".
        "compute": record(
            {"forward_flops_per_image": POSITIVE_NUMBER, "training_flops": POSITIVE_NUMBER},
            {"counted": text()},
        ),
    },
)
# history.csv, one row: every value must be finite (NaN in a log is a broken run).
HISTORY_ROW = record(
    {
        "epoch": POSITIVE,
        "loss": NON_NEGATIVE,
        "accuracy": FRACTION,
        "val_loss": NON_NEGATIVE,
        "val_accuracy": FRACTION,
        "learning_rate": NON_NEGATIVE,
        "seconds": NON_NEGATIVE,
    },
    {"train_seconds": NON_NEGATIVE},
)

# A study's summary.json (cifarcmp/studies/summaries.py): the fields of every row; each study adds
# its own (its module's row_rules).
STUDY_RUN = {"arm": text(64, 1), "seed": COUNT, "run": text(1000, 1), "synthetic": BOOLEAN}
# Fields a row may hold: the study's name for the change its run makes to the arm's protocol
# ("flip and crop", "lr 0.001", "64 px"); summaries from before studies varied the protocol lack it,
# and the report reads a missing one as empty (the arm's own protocol).
STUDY_RUN_OPTIONAL = {"variant": text(64)}
# The figures of a run that trained, for the studies that compare them.
STUDY_FIGURES = {
    "fraction": number(1e-9, 1),
    "test_accuracy": FRACTION,
    "val_accuracy": FRACTION,
    "train_accuracy": FRACTION,
    "train_images": COUNT,
    "epochs_run": POSITIVE,
    "wall_seconds": NON_NEGATIVE,
    "train_images_per_second": NON_NEGATIVE,
    "forward_flops_per_image": POSITIVE_NUMBER,
    "training_flops": POSITIVE_NUMBER,
    "parameters": PARAMETERS,
    "device": DEVICE,
}


def study_summary(study: str, row_rules: dict) -> dict:
    """A study's summary.json: its rows hold every study's fields and the study's own `row_rules`."""
    return record(
        {
            "study": text(choices=(study,)),
            "synthetic": BOOLEAN,
            "runs": listing(record({**STUDY_RUN, **row_rules}, STUDY_RUN_OPTIONAL), minimum=1, limit=10_000),
        },
        {"profile": nullable(text(64))},
    )


# Checking ------------------------------------------------------------------------------------

FORMATS = FormatChecker(formats=())


@FORMATS.checks("printable")
def _printable(value) -> bool:
    return not isinstance(value, str) or value.isprintable()


@FORMATS.checks("timestamp", raises=ValueError)
def _timestamp(value) -> bool:
    if isinstance(value, str):
        datetime.datetime.fromisoformat(value)
    return True


@FORMATS.checks("class-name", raises=ValueError)
def _class_name(value) -> bool:
    # The archive reader's one rule (cifarcmp.text): names label pages, figures and spreadsheet
    # rows, so a tampered results folder must not bring other ones.
    problem = class_name_problem(value) if isinstance(value, str) else None
    if problem:
        raise ValueError(problem)
    return True


def _finite_number(checker, value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole_number(checker, value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


Validator = jsonschema.validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many({"number": _finite_number, "integer": _whole_number}),
)
_WANTED = {
    "integer": "an integer",
    "number": "a finite number",
    "string": "text",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a list",
    "null": "null",
}


def problem(value, schema: dict) -> str | None:
    """What is wrong with `value` under `schema`, in one line naming the field; None if nothing."""
    error = next(iter(sorted(Validator(schema, format_checker=FORMATS).iter_errors(value), key=_depth)), None)
    return None if error is None else _described(error)


def check(path: Path, value, schema: dict) -> None:
    """UserError naming `path` and the field when `value` (the file's content) breaks `schema`."""
    found = problem(value, schema)
    if found:
        raise UserError(f"{path}: {found}")


def _depth(error) -> tuple:
    # The outermost problem first: a missing field before a bad value deep inside another.
    return (len(error.absolute_path), list(map(str, error.absolute_path)))


def _field(parts) -> str:
    shown = ""
    for part in parts:
        shown += f"[{part}]" if isinstance(part, int) else (f".{part}" if shown else str(part))
    return shown


def shown(value) -> str:
    """A value as the error line quotes it: one line, short."""
    quoted = repr(value)
    return quoted if len(quoted) <= 40 else quoted[:37] + "..."


def _described(error) -> str:
    field, value, keyword, bound = _field(error.absolute_path), error.instance, error.validator, error.validator_value
    if keyword == "type":
        kinds = [bound] if isinstance(bound, str) else bound
        said = f"is {shown(value)}, expected {' or '.join(_WANTED[kind] for kind in kinds)}"
    elif keyword in ("minimum", "maximum", "exclusiveMinimum"):
        low, high = error.schema.get("minimum", error.schema.get("exclusiveMinimum")), error.schema.get("maximum")
        above = "above" if "exclusiveMinimum" in error.schema else ">="
        said = f"is {shown(value)}, expected {error.schema.get('title', 'a number')} " + (
            f"in {low:g}..{high:g}" if high is not None else f"{above} {low:g}"
        )
    elif keyword == "enum":
        said = f"is {shown(value)}, expected one of: {', '.join(map(str, bound))}"
    elif keyword == "required":
        missing = [name for name in bound if name not in value]
        said = f"lacks {', '.join(missing)}"
    elif keyword in ("minItems", "maxItems"):
        low, high = error.schema.get("minItems", 0), error.schema.get("maxItems")
        said = f"holds {len(value)} entries, expected " + (f"{low}" if low == high else f"{low}..{high}")
    elif keyword in ("minLength", "maxLength"):
        said = (
            f"holds {len(value)} characters, expected {error.schema.get('minLength', 0)}..{error.schema['maxLength']}"
        )
    elif keyword == "format":
        said = {
            "printable": f"is {shown(value)}, with characters that cannot be printed",
            "timestamp": f"is {shown(value)}, expected an ISO 8601 date and time",
        }.get(bound) or str(error.cause or error.message)
    elif keyword == "maxProperties":
        said = f"is {shown(value)}, expected an object of up to {bound} entries"
    else:
        said = error.message
    if not field:
        return said.replace("is ", "holds ", 1) if keyword == "type" else said
    return f"{field} {said}"
