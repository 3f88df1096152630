"""Every page of the guide with Python code has its docs test, tests/test_docs_<page>.py."""

from __future__ import annotations

from tests.docs_blocks import GUIDE, ROOT, code_blocks


def test_every_guide_page_with_python_code_has_a_docs_test():
    pages = sorted(p.stem for p in GUIDE.glob("*.rst") if code_blocks(p))
    assert len(pages) >= 8
    missing = [p for p in pages if not (ROOT / "tests" / f"test_docs_{p}.py").exists()]
    assert missing == []
