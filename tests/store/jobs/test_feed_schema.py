"""A store made before the feed kept Alma's other fields gets them from the store's migration (new columns with
defaults, the new role table) when it opens, its rows untouched."""
import sqlite3

from library_kiosk.central.store import patron_search, schema
from library_kiosk.central.store.models import User
from tests.store import factories

NEW_COLUMNS = {"user": ("pref_first_name", "pref_middle_name", "pref_last_name", "job_description", "campus_code",
                        "birth_date", "gender", "full_name", "user_title", "job_category"),
               "statistic": ("statistic_note",)}


def test_an_older_store_gains_the_feed_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    db = schema.init(f"sqlite:///{path}")
    with db.connection_context():
        factories.patron("P1")
        patron_search.drop_indexes(db)  # an older store had no search index (its triggers name these columns)
    raw = sqlite3.connect(path)
    for table, columns in NEW_COLUMNS.items():
        for column in columns:
            raw.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    raw.execute('DROP TABLE "user_role"')
    raw.commit()
    raw.close()
    db = schema.init(f"sqlite:///{path}")
    with db.connection_context():
        user = User.get(User.primary_id == "P1")
        tables = set(db.get_tables())
        columns = {t: {c.name for c in db.get_columns(t)} for t in NEW_COLUMNS}
    assert (user.last_name, user.pref_first_name, user.birth_date, "user_role" in tables,
            all(set(cols) <= columns[t] for t, cols in NEW_COLUMNS.items())) == ("Ólafsdóttir", "", None, True, True)
