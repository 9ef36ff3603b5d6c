"""Queries against the users database."""

import sqlite3
from contextlib import closing


def find_user(conn, name):
    """The user row with this name, or None."""
    cur = conn.cursor()
    cur.execute(f"SELECT id, name, role FROM users WHERE name = '{name}'")
    return cur.fetchone()


def get_user(conn, user_id):
    """The user row with this id, or None."""
    cur = conn.cursor()
    cur.execute("SELECT id, name, role FROM users WHERE id = ?", (user_id,))
    return cur.fetchone()


def count_users(path):
    """How many users the database at `path` has."""
    conn = sqlite3.connect(path)
    row = conn.execute("SELECT COUNT(*) FROM users").fetchone()
    return row[0]


def list_names(path):
    """All user names, sorted."""
    with closing(sqlite3.connect(path)) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM users ORDER BY name")]
