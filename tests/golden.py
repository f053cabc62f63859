"""The golden report: fixed fixture results rendered to text, kept in tests/golden/ to compare with.

`write_golden_results(root)` writes two seeds of each model under `root/smoke/`, the arms and
data-efficiency studies and every improvement study under `root/studies-smoke/`, all from tests/fixtures.py, so every number
is fixed. `rendered_text(out, root)` reads back every text file `cifarcmp render` wrote, with the
temporary root replaced by `<ROOT>`, so a rendering can be compared with the committed golden copy.

Regenerate the copy only when a page is meant to change, and say why in the commit:
    python tests/golden.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from fixtures import write_fixture_run, write_fixture_study, write_improvement_studies

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
TEXT_SUFFIXES = {".md", ".html", ".csv", ".tex", ".txt", ".json"}


def _mask(right: int, total: int = 200, shift: int = 0) -> np.ndarray:
    return np.roll(np.arange(total) < right, shift)


def write_golden_results(root: Path) -> Path:
    """Main runs (two seeds per model) and two studies; returns the main results folder."""
    main = root / "smoke"
    for seed in (0, 1):
        write_fixture_run(
            main / "resnet50" / f"seed-{seed}",
            "resnet50",
            seed=seed,
            gallery=True,
            correct=_mask(176 + seed * 4, shift=seed),
        )
        write_fixture_run(
            main / "cnn" / f"seed-{seed}", "cnn", seed=seed, gallery=True, correct=_mask(138 + seed * 6, shift=3 * seed)
        )
    studies = root / "studies-smoke"
    arms = []
    for seed in (0, 1):
        arms += [
            {"arm": "resnet50", "seed": seed, "epochs": 6, "best_epoch": 2, "correct": _mask(178 + seed)},
            {"arm": "resnet50-frozen", "seed": seed, "epochs": 6, "best_epoch": 4, "correct": _mask(160 - seed)},
            {"arm": "resnet50-random", "seed": seed, "epochs": 6, "best_epoch": 5, "correct": _mask(120 + seed)},
            {"arm": "cnn", "seed": seed, "epochs": 10, "best_epoch": 7, "correct": _mask(140 + 2 * seed)},
        ]
    write_fixture_study(studies, "arms", arms)
    efficiency = []
    for fraction, scale in ((0.1, 0.8), (1.0, 1.0)):
        for seed in (0, 1):
            for arm, right in (("resnet50", 178), ("resnet50-frozen", 160), ("cnn", 140)):
                spec = next(spec for spec in arms if spec["arm"] == arm and spec["seed"] == seed)
                efficiency.append(
                    {**spec, "fraction": fraction, "correct": _mask(round((right + seed) * scale))}
                    if fraction != 1
                    else spec
                )
    write_fixture_study(studies, "data-efficiency", efficiency)
    write_improvement_studies(studies)  # every improvement study, for the Improvements page
    return main


def rendered_text(out: Path, root: Path) -> dict[str, str]:
    """Every text file under `out`, by relative path, with the temporary `root` written `<ROOT>`."""
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8")
            for spelling in {str(root.resolve()), str(root)}:
                text = text.replace(spelling, "<ROOT>")
            found[path.relative_to(out).as_posix()] = text
    return found


def render_golden(root: Path) -> dict[str, str]:
    from cifarcmp.report.render import render

    main = write_golden_results(root)
    out = root / "generated"
    render(main, out)
    return rendered_text(out, root)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as temporary:
        pages = render_golden(Path(temporary))
    shutil.rmtree(GOLDEN_DIR, ignore_errors=True)
    for name, text in pages.items():
        target = GOLDEN_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"{len(pages)} golden files in {GOLDEN_DIR}", file=sys.stderr)
