"""Catalogue versions live in the database as their source text; each process keeps the parsed current one.

Reading the catalogue is on every top-up's path, so the parsed catalogue is cached per process and the
current version re-checked at most every `recheck_seconds`: a reload reaches other processes within that.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.tables import catalogue_versions
from topup.domain.catalogue import Catalogue
from topup.domain.catalogue_format import parse_catalogue
from topup.domain.errors import CatalogueInvalid, CatalogueNotLoaded


@dataclass
class _Cached:
    version: str
    catalogue: Catalogue
    checked_at: float


class CatalogueCache:
    def __init__(self, recheck_seconds: float) -> None:
        self.recheck_seconds = recheck_seconds
        self._lock = threading.Lock()
        self._cached: _Cached | None = None

    def fresh(self) -> Catalogue | None:
        cached = self._cached
        if cached is not None and time.monotonic() - cached.checked_at < self.recheck_seconds:
            return cached.catalogue
        return None

    def remember(self, version: str, catalogue: Catalogue) -> None:
        with self._lock:
            self._cached = _Cached(version, catalogue, time.monotonic())

    def parsed(self, version: str) -> Catalogue | None:
        cached = self._cached
        return cached.catalogue if cached is not None and cached.version == version else None

    def forget(self) -> None:
        with self._lock:
            self._cached = None


class SqlCatalogueStore:
    def __init__(self, handle: ConnectionHandle, cache: CatalogueCache) -> None:
        self._handle = handle
        self._cache = cache

    def current_version(self) -> str | None:
        row = self._handle.connection.execute(
            select(catalogue_versions.c.version).order_by(catalogue_versions.c.activated_at.desc()).limit(1)
        ).first()
        return None if row is None else str(row.version)

    def current(self) -> Catalogue:
        fresh = self._cache.fresh()
        if fresh is not None:
            return fresh
        version = self.current_version()
        if version is None:
            raise CatalogueNotLoaded("No catalogue is loaded yet: run `topup catalogue load FILE`.")
        catalogue = self._cache.parsed(version)
        if catalogue is None:
            source = self._handle.connection.execute(
                select(catalogue_versions.c.source).where(catalogue_versions.c.version == version)
            ).scalar_one()
            catalogue = parse_catalogue(source)
        self._cache.remember(version, catalogue)
        return catalogue

    def save(self, catalogue: Catalogue, source: str, *, now: datetime) -> bool:
        connection = self._handle.connection
        existing = connection.execute(
            select(catalogue_versions.c.source).where(catalogue_versions.c.version == catalogue.version)
        ).first()
        if existing is not None and existing.source != source:
            raise CatalogueInvalid(
                f"Version {catalogue.version} was loaded before with other content: give the file a new version.",
                version=catalogue.version,
            )
        if self.current_version() == catalogue.version:
            return False
        if existing is None:
            connection.execute(
                catalogue_versions.insert().values(
                    version=catalogue.version, source=source, loaded_at=now, activated_at=now
                )
            )
        else:
            connection.execute(
                catalogue_versions.update()
                .where(catalogue_versions.c.version == catalogue.version)
                .values(activated_at=now)
            )
        self._cache.forget()
        return True
