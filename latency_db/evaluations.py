"""Accuracy evaluations and searches: the store's half that training and search use.

:class:`AccuracyAndSearches` is a base of
:class:`~lce_nas.latency_db.store.LatencyStore`, which provides the
transactions (``_read``, ``_write``) and the dialect's ``_insert``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lce_nas.latency_db.models import ACCURACIES as _ACC
from lce_nas.latency_db.models import SEARCHES as _SEARCHES
from lce_nas.latency_db.records import (
    AccuracyEvaluation,
    accuracy_from_row,
    accuracy_row,
    json_safe,
    now,
)
from sqlalchemy import Connection, Insert, Table, select, update

from lce_nas.errors import UserError

T = TypeVar("T")


class AccuracyAndSearches:
    """Record and look up proxy accuracies and named searches."""

    display_url: str

    def _read(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    def _write(self, work: Callable[[Connection], T], idempotent: bool = False) -> T:
        raise NotImplementedError

    def _insert(self, table: Table) -> Insert:
        raise NotImplementedError

    # -- accuracy evaluations -------------------------------------------------

    def record_accuracy(self, ev: AccuracyEvaluation) -> AccuracyEvaluation:
        """Store an evaluation once per key and return the stored one.

        The key is (fingerprint, dataset, proxy settings hash); when it is
        already present the first evaluation stays and is returned.

        Example:
            >>> from lce_nas.latency_db import LatencyStore
            >>> store = LatencyStore("sqlite://")
            >>> ev = AccuracyEvaluation("ab" * 32, "fashion-mnist", {"epochs": 3}, top1=0.67)
            >>> store.record_accuracy(ev).top1
            0.67
            >>> store.lookup_accuracy("ab" * 32, "fashion-mnist", {"epochs": 1}) is None
            True
        """
        stmt = self._insert(_ACC).values(accuracy_row(ev))
        stmt = stmt.on_conflict_do_nothing(
            index_elements=["fingerprint", "dataset", "proxy_settings_hash"]
        )
        self._write(lambda conn: conn.execute(stmt), idempotent=True)
        stored = self.lookup_accuracy(ev.fingerprint, ev.dataset, ev.proxy_settings)
        assert stored is not None
        return stored

    def lookup_accuracy(
        self, fingerprint: str, dataset: str, proxy_settings: dict[str, Any]
    ) -> AccuracyEvaluation | None:
        """The evaluation for this key, or None."""
        wanted = AccuracyEvaluation(fingerprint, dataset, proxy_settings, top1=0.0)
        query = select(_ACC).where(
            _ACC.c.fingerprint == fingerprint,
            _ACC.c.dataset == dataset,
            _ACC.c.proxy_settings_hash == wanted.proxy_settings_hash,
        )
        row = self._read(lambda conn: conn.execute(query).first())
        return None if row is None else accuracy_from_row(row)

    def accuracies(
        self, fingerprint: str | None = None, dataset: str | None = None
    ) -> list[AccuracyEvaluation]:
        """All evaluations matching the filters, oldest first."""
        query = select(_ACC).order_by(_ACC.c.evaluated_at, _ACC.c.id)
        if fingerprint is not None:
            query = query.where(_ACC.c.fingerprint == fingerprint)
        if dataset is not None:
            query = query.where(_ACC.c.dataset == dataset)
        return self._read(lambda conn: [accuracy_from_row(r) for r in conn.execute(query)])

    # -- searches ---------------------------------------------------------------

    def record_search(
        self,
        name: str,
        study_name: str,
        space: str,
        device: str,
        arguments: dict[str, Any],
        status: str = "running",
    ) -> dict[str, Any]:
        """Register a search, or (when the name exists) only set its status.

        Resuming a search keeps its study, space, device and arguments as
        first recorded; the stored row is returned so the caller can compare.

        Example:
            >>> from lce_nas.latency_db import LatencyStore
            >>> store = LatencyStore("sqlite://")
            >>> store.record_search("s1", "s1", "quicknet", "rpi4", {"trials": 50})["status"]
            'running'
            >>> store.set_search_status("s1", "finished")
            >>> store.search("s1")["status"]
            'finished'
        """
        moment = now()
        stmt = self._insert(_SEARCHES).values(
            name=name,
            study_name=study_name,
            space=space,
            device=device,
            arguments=json_safe(arguments),
            status=status,
            created_at=moment,
            updated_at=moment,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"status": stmt.excluded.status, "updated_at": stmt.excluded.updated_at},
        )
        self._write(lambda conn: conn.execute(stmt), idempotent=True)
        found = self.search(name)
        assert found is not None
        return found

    def set_search_status(self, name: str, status: str) -> None:
        """Set a search's status (e.g. ``finished``, ``failed``)."""
        stmt = (
            update(_SEARCHES)
            .where(_SEARCHES.c.name == name)
            .values(status=status, updated_at=now())
        )
        stmt = stmt.returning(_SEARCHES.c.name)
        if self._write(lambda conn: conn.execute(stmt).first()) is None:
            raise UserError(f"no search named {name!r} in {self.display_url}")

    def search(self, name: str) -> dict[str, Any] | None:
        """A search's row as a dict, or None."""
        query = select(_SEARCHES).where(_SEARCHES.c.name == name)
        row = self._read(lambda conn: conn.execute(query).first())
        return None if row is None else dict(row._mapping)

    def searches(self) -> list[dict[str, Any]]:
        """All searches, oldest first."""
        query = select(_SEARCHES).order_by(_SEARCHES.c.created_at, _SEARCHES.c.name)
        return self._read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
