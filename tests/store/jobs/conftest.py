import pytest

from tests.store import factories


@pytest.fixture
def groups(central_db):
    for code in ("21", "25", "58", "59"):
        factories.group(code)
    return central_db


@pytest.fixture
def write(tmp_path):
    def write(name: str, text: str | bytes) -> str:
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return str(path)
    return write
