import pytest


@pytest.fixture
def builds(monkeypatch):
    """Every patron whose kiosk document is built from the patron tables, in order:
    ``central.store.accounts.documents`` is the one builder of the sync read model and of pages
    (``central.store.documents.build``, ``central.store.sync.page``)."""
    from library_kiosk.central.store import accounts

    seen = []
    real = accounts.documents

    def observed(primary_ids, *args, **kwargs):
        primary_ids = list(primary_ids)
        seen.extend(primary_ids)
        return real(primary_ids, *args, **kwargs)

    monkeypatch.setattr(accounts, "documents", observed)
    return seen
