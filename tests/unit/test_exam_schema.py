"""`lab exam schema`: the JSON Schema of exam files, shipped as docs/exam.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from breakfix.cli.main import main

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "docs" / "exam.schema.json"


def test_shipped_exam_schema_matches_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exam", "schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == json.loads(SHIPPED.read_text()), (
        "docs/exam.schema.json drifted: python -m breakfix exam schema > docs/exam.schema.json"
    )


def test_the_example_exam_fits_the_schema() -> None:
    example = yaml.safe_load((REPO / "docs" / "exam.example.yaml").read_text())
    jsonschema.validate(example, json.loads(SHIPPED.read_text()))


@pytest.mark.parametrize(
    "bad",
    [
        {"duration": "soon"},
        {"students": []},
        {"name": "Week 3"},
        {"extra": 1},
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(bad: dict[str, object]) -> None:
    example = yaml.safe_load((REPO / "docs" / "exam.example.yaml").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, **bad}, json.loads(SHIPPED.read_text()))
