"""The traceability spine: every SPEC.md rule id is cited in model/ and in a test, and no citation is undefined."""

from __future__ import annotations

import re

from support import ROOT

ID = r"(?:SCN|PROC|SIG|LINK|MON|REG-LOCAL|REG-GLOBAL|VIA|GS|SUP|DSUP|BACKEND)-\d+"
# A rule is defined where its id opens a line (after Markdown markup: #, -, *, **).
DEFINITION = re.compile(rf"^[#>*\-\s]*\**({ID})\b", re.M)
CITATION = re.compile(rf"\b({ID})\b")


def defined_ids() -> set[str]:
    text = (ROOT / "SPEC.md").read_text()
    ids = DEFINITION.findall(text)
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"rule ids defined twice in SPEC.md: {sorted(duplicates)}"
    return set(ids)


def cited_in(folder: str, pattern: str = "*.py") -> set[str]:
    found: set[str] = set()
    for path in (ROOT / folder).rglob(pattern):
        found |= set(CITATION.findall(path.read_text()))
    return found


def test_spec_defines_rules():
    assert len(defined_ids()) >= 40


def test_every_rule_is_cited_in_the_model():
    assert sorted(defined_ids() - cited_in("model")) == []


def test_every_rule_is_cited_in_a_test():
    assert sorted(defined_ids() - cited_in("tests")) == []


def test_no_citation_names_an_undefined_rule():
    defined = defined_ids()
    cited = cited_in("model") | cited_in("tests") | cited_in("impl") | cited_in("regspec")
    assert sorted(cited - defined) == []


def test_every_model_module_says_which_rules_it_implements():
    missing = [p.name for p in (ROOT / "model").glob("*.py")
               if not re.search(rf"^Implements: {ID}", p.read_text(), re.M)]
    assert missing == []
