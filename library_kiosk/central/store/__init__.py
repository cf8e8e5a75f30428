"""The central patron store: peewee models over SQLite (default) or PostgreSQL,
and the operations staff, kiosks and jobs perform on them."""
