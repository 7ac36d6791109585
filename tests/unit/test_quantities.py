import pytest

from breakfix.quantities import parse_bytes


@pytest.mark.parametrize(
    ("text", "size"),
    [("64Mi", 64 * 2**20), ("1Gi", 2**30), ("500M", 500 * 10**6), ("1e9", 10**9), ("268435456", 2**28), (1024, 1024)],
)
def test_parse(text: object, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize("bad", ["", "Mi", "64MB", "-1Gi", "1 Gi x", True, None, [1]])
def test_parse_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_bytes(bad)
