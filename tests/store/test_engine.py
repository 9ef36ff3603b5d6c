"""Opening the store: the head revision is found without alembic, and an up-to-date database is opened
without importing alembic at all."""

from __future__ import annotations

import subprocess
import sys

from alembic.config import Config
from alembic.script import ScriptDirectory

from boocode.store.engine import MIGRATIONS, head_revision
from boocode.store.store import Store

OPEN = """
import asyncio, sys
from boocode.store.store import open_store

async def main():
    store = await open_store(sys.argv[1])
    await store.aclose()

asyncio.run(main())
print('alembic' in sys.modules)
"""


def test_head_revision_is_alembics_head() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


def test_opening_an_up_to_date_store_does_not_import_alembic(store: Store, db_url: str) -> None:
    done = subprocess.run([sys.executable, "-c", OPEN, db_url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
