import pytest

from breakfix.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20s", 20), ("15m", 900), ("1h30m", 5400), ("90", 90), (45, 45), (1.5, 1.5), ("500ms", 0.5), ("2m30s", 150)],
)
def test_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "abc", "10x", "5 minutes", "-3", -3, True, None, [1]])
def test_parse_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format() -> None:
    assert [format_duration(s) for s in (5, 60, 185, 3720)] == ["5s", "1m", "3m05s", "1h02m"]
