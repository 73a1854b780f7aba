"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL: database `test` on 127.0.0.1:5432 (override with TOPUP_TEST_POSTGRES_URL); each xdist worker
gets its own schema, migrated once; every test starts from empty tables. Without a server the PostgreSQL
half is skipped with a message — except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from topup.adapters.clock import FixedClock
from topup.adapters.db.engine import make_engine
from topup.adapters.db.migrate import upgrade
from topup.adapters.db.tables import metadata
from topup.bootstrap import Application, bootstrap
from topup.config import Settings
from topup.entrypoints.api.app import create_app
from topup.services import api_keys, catalogue

SAMPLE_CATALOGUE = Path(__file__).parents[1] / "src" / "topup" / "data" / "catalogue.toml"
POSTGRES_URL = os.environ.get("TOPUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 14:00 in Baku


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    # One schema per test process: two runs on one machine (a fresh clone next to a working copy) never meet.
    schema = f"topup_test_{_worker()}_{os.getpid()}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as error:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {POSTGRES_URL}: {error}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}; PostgreSQL tests skipped")
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "topup.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_schema_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def postgres_url(postgres_schema_url: str) -> str:
    """For tests that only make sense on PostgreSQL (real concurrency)."""
    _empty_postgres(postgres_schema_url)
    return postgres_schema_url


def make_application(url: str, clock: FixedClock) -> Application:
    settings = Settings(
        database_url=url,
        catalogue_recheck_seconds=0,
        api_key_cache_seconds=0,
        database_pool_size=20,
        worker_in_process=False,  # tests drive the worker themselves
        sandbox_enabled=False,  # the sandbox acquirer has its own tests; API tests inject a scripted one
    )
    application = bootstrap(settings, clock=clock)
    catalogue.load_catalogue(application.uow(), clock, source=SAMPLE_CATALOGUE.read_text(encoding="utf-8"))
    return application


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def application(database_url: str, clock: FixedClock) -> Iterator[Application]:
    application = make_application(database_url, clock)
    yield application
    application.close()


@pytest.fixture
def admin_key(application: Application) -> str:
    return api_keys.create_api_key(application.uow(), application.clock, name="staff", role="admin")[1]


@pytest.fixture
def integrator_key(application: Application) -> str:
    return api_keys.create_api_key(application.uow(), application.clock, name="wallet", role="integrator")[1]


@pytest.fixture
def client(application: Application, admin_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(application), headers={"Authorization": f"Bearer {admin_key}"}) as test_client:
        yield test_client
