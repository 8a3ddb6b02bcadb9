"""docs/scenario-format.md is the scenario contract: it names everything the validator knows,
its examples are well-formed and print what it says, and nothing points outside the project.

Examples are the doc's fenced ```json blocks that are whole scenarios (objects with
"steps"); a ```json block right after one that is a list of {"step", "result"} objects is
what that example prints, on the model, the runtime and (when erl is installed) the BEAM.
The first example is the doc's main one. Examples whose name starts with "v1.1-" show the
shapes contract v1.1 settled: a failure there means a target (or the validator) does not
implement v1.1 yet, not that the doc is wrong.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from regspec import scenario, targets
from regspec.common import backends
from regspec.scenario import parse
from support import ROOT, needs_erl

DOC = ROOT / "docs" / "scenario-format.md"
TEXT = DOC.read_text(encoding="utf-8")

FENCE = re.compile(r"^```json\n(.*?)^```", re.M | re.S)


def json_blocks() -> list[object]:
    """Every ```json block, parsed; None for one that is not JSON (see the first test)."""
    blocks = []
    for m in FENCE.finditer(TEXT):
        try:
            blocks.append(json.loads(m.group(1)))
        except ValueError:
            blocks.append(None)
    return blocks


def is_scenario(block: object) -> bool:
    return isinstance(block, dict) and "steps" in block


def is_results(block: object) -> bool:
    return isinstance(block, list) and bool(block) and all(
        isinstance(r, dict) and set(r) == {"step", "result"} for r in block)


def examples() -> list[tuple[dict, list | None]]:
    """Every scenario block with the results block that follows it, if any."""
    blocks = json_blocks()
    out = []
    for i, block in enumerate(blocks):
        if is_scenario(block):
            following = blocks[i + 1] if i + 1 < len(blocks) else None
            out.append((block, following if is_results(following) else None))
    return out


EXAMPLES = examples()
MAIN = EXAMPLES[0] if EXAMPLES else ({}, None)


def example_id(example: tuple[dict, list | None]) -> str:
    return example[0].get("name", "unnamed")


def section(heading: str) -> str:
    """The text under a heading of the doc, up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = TEXT.index(f"\n{heading}\n")
    rest = TEXT[start + len(heading) + 2:]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.M)]
    return rest[:ends[0]] if ends else rest


def table_row(text: str, first_cell: str) -> str | None:
    """The table row of `text` whose first cell is exactly `first_cell` in backticks."""
    m = re.search(rf"^\| `{re.escape(first_cell)}` \|.*$", text, re.M)
    return m.group(0) if m else None


# -- the doc names everything the validator knows --------------------------------

def test_every_json_block_is_valid_json():
    for m in FENCE.finditer(TEXT):
        json.loads(m.group(1))   # raises with the offending block's position


@pytest.mark.parametrize("op", sorted(scenario.OPS))
def test_every_op_has_a_summary_row_naming_all_its_fields(op):
    row = table_row(section("### 8.1 Summary"), op)
    assert row is not None, f"no row for `{op}` in the operations table (section 8.1)"
    required, optional = scenario.OPS[op]
    missing = sorted(f for f in required | optional if f"`{f}`" not in row)
    assert missing == [], f"the `{op}` row does not name {missing}: {row}"


@pytest.mark.parametrize("op", sorted(scenario.OPS))
def test_every_op_has_its_own_heading(op):
    assert re.search(rf"^#### .*`{re.escape(op)}`", TEXT, re.M), f"no #### heading for `{op}`"


def test_every_step_field_appears():
    fields = set().union(*(req | opt for req, opt in scenario.OPS.values())) | {"op", "as", "nowait"}
    assert sorted(f for f in fields if f"`{f}`" not in TEXT) == []


def test_every_child_spec_field_is_in_the_child_spec_table():
    table = section("### 9.4 Child specs")
    assert sorted(f for f in scenario._CHILD_FIELDS if f"`{f}`" not in table) == []


@pytest.mark.parametrize("kind", scenario.KINDS)
def test_every_kind_has_a_section(kind):
    assert re.search(rf"^### 9\.\d .*`{re.escape(kind)}`", TEXT, re.M), f"no section for kind `{kind}`"


@pytest.mark.parametrize("backend", backends.names())
def test_every_backend_has_a_row(backend):
    assert table_row(section("## 6. Names"), backend) is not None, f"no row for backend `{backend}` in section 6"


# -- the examples ------------------------------------------------------------------

def test_the_doc_has_a_main_example_with_its_results():
    assert EXAMPLES, "no ```json scenario in the doc"
    scenario_doc, results = MAIN
    assert results is not None, "the main example is not followed by its results"
    assert len(results) == len(scenario_doc["steps"])


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_every_example_is_well_formed(example):
    parse(example[0])


WITH_RESULTS = [e for e in EXAMPLES if e[1] is not None]


def test_the_main_example_prints_its_results_on_the_model():
    scenario_doc, results = MAIN
    assert targets.run(parse(scenario_doc), "model") == results


@pytest.mark.parametrize("target", ["model", "impl"])
@pytest.mark.parametrize("example", WITH_RESULTS, ids=example_id)
def test_every_example_prints_its_results(example, target):
    scenario_doc, results = example
    assert targets.run(parse(scenario_doc), target) == results


@needs_erl
@pytest.mark.parametrize("example", WITH_RESULTS, ids=example_id)
def test_every_example_prints_its_results_on_the_beam(example):
    scenario_doc, results = example
    assert targets.run(parse(scenario_doc), "beam") == results


# -- the contract lives in the project ---------------------------------------------

# Spelled in pieces so that this file does not contain what it looks for.
OUTSIDE = ["../" + "shared", "shared/" + "scenario-format", "shared/" + "reference"]


def test_no_project_file_points_outside_the_project():
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout
    offenders = []
    for name in sorted(set(listed.decode().split("\0")) - {""}):
        path = ROOT / name
        if not path.is_file():   # listed but deleted in the work tree: it holds nothing
            continue
        data = path.read_bytes()
        offenders += [f"{name}: {s}" for s in OUTSIDE if s.encode() in data]
    assert offenders == []


RULE_ID = r"(?:SCN|PROC|SIG|LINK|MON|REG-LOCAL|REG-GLOBAL|VIA|GS|SUP|DSUP)-\d+"


def test_every_rule_the_doc_cites_is_defined_in_spec():
    spec = (ROOT / "SPEC.md").read_text(encoding="utf-8")
    defined = set(re.findall(rf"^\*\*({RULE_ID})\*\*", spec, re.M))
    cited = set(re.findall(rf"\b({RULE_ID})\b", TEXT))
    assert cited, "the doc cites no rule"
    assert sorted(cited - defined) == []


def test_readme_and_spec_link_the_doc():
    for name in ("README.md", "SPEC.md"):
        assert "docs/scenario-format.md" in (ROOT / name).read_text(encoding="utf-8"), name


def test_the_readme_python_api_examples_run():
    """The README's `>>>` examples (the Python API) run as doctests and print what they show."""
    import doctest
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 30 and result.failed == 0
