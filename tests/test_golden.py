"""The generated pages, tables and snippets, rendered from fixed fixture results, match the golden copy.

tests/golden/ was rendered before the package was regrouped by stage; any change to a number or a
sentence shows here as a diff. Regenerate it (`python tests/golden.py`) only for a change that is
meant to be seen, and say which in the commit.
"""

from __future__ import annotations

import difflib

from golden import GOLDEN_DIR, render_golden


def test_rendering_matches_the_golden_copy(tmp_path):
    rendered = render_golden(tmp_path)
    golden = {
        path.relative_to(GOLDEN_DIR).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(GOLDEN_DIR.rglob("*"))
        if path.is_file()
    }
    assert sorted(rendered) == sorted(golden)
    for name, text in golden.items():
        if rendered[name] != text:
            diff = "".join(
                difflib.unified_diff(
                    text.splitlines(True), rendered[name].splitlines(True), f"golden/{name}", f"rendered/{name}", n=1
                )
            )
            raise AssertionError(f"{name} differs from the golden copy:\n{diff[:4000]}")
