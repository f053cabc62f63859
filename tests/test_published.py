"""The published results the report cites: well-formed rows, each with a link to its source."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from cifarcmp.report.published import PUBLISHED


@pytest.mark.parametrize("row", PUBLISHED, ids=lambda row: row.model[:40])
def test_each_published_row_is_well_formed(row):
    link = urlparse(row.source)
    assert link.scheme == "https" and link.netloc and " " not in row.source
    assert 0.5 < row.accuracy < 1.0  # CIFAR-10 test accuracies, as fractions, not percentages
    assert row.accuracy_high is None or row.accuracy < row.accuracy_high < 1.0
    assert row.pretraining in ("ImageNet-1k", "ImageNet-21k", "none")
    assert row.model.strip() and row.work.strip() and row.where.strip() and row.note.strip()
    assert row.parameters is None or 1e5 < row.parameters < 1e8
    assert row.training_flops is None or row.training_flops > 0
    assert (row.training_seconds is None) == (row.hardware == "")  # a time says what it was measured on


def test_the_figures_are_the_ones_checked_at_their_sources():
    by_source = {}
    for row in PUBLISHED:
        by_source.setdefault(row.source.split("#")[0], []).append(row)
    figures = sorted((row.accuracy, row.accuracy_high) for row in PUBLISHED)
    assert figures == [
        (0.75, None),
        (0.79, None),
        (0.9125, None),  # ResNet-20: Table 6 reports an error of 8.75 %
        (0.9147, None),
        (0.9401, None),
        (0.972, 0.974),
        (0.975, None),
    ]
    resnet20 = next(row for row in PUBLISHED if row.model.startswith("ResNet-20"))
    assert "8.75" in resnet20.where and resnet20.accuracy == pytest.approx(1 - 0.0875)
    assert len(by_source) == 6  # the Keras example gives two figures
