"""The stand-in's simulated calendar: users whose outcome changes from one day to the next.

A real user can be found today, turn private next week and delete the account the week
after. The timeline holds, per username, the outcomes that take effect on given simulated
dates (an outcome is the reserved username whose reply it gives, such as
:data:`~airflow_provider_tiktok.testing.users.PRIVATE_USER`, or ``None`` for found again),
and the simulated date itself, so that tests and simulations run many days in seconds.
"""

from __future__ import annotations

import datetime as dt
import threading

from airflow_provider_tiktok.testing.users import (
    RESERVED_OUTCOMES,
    ReservedOutcome,
    reserved_outcome,
)


class OutcomeTimeline:
    """Outcome changes keyed by simulated date, and the simulated date (thread-safe).

    :param today: the simulated date to start on; the real UTC date by default.
    """

    def __init__(self, today: dt.date | None = None) -> None:
        self._lock = threading.Lock()
        self._today = today or dt.datetime.now(dt.timezone.utc).date()
        self._changes: dict[str, dict[dt.date, str | None]] = {}

    @property
    def today(self) -> dt.date:
        """The simulated date."""
        with self._lock:
            return self._today

    def move_to(self, day: dt.date) -> None:
        """Set the simulated date.

        :param day: the new date, earlier or later.
        """
        with self._lock:
            self._today = day

    def schedule(self, username: str, on: dt.date, outcome: str | None) -> None:
        """From ``on`` onwards, answer for ``username`` as for the reserved ``outcome``.

        :param username: the user; case does not matter.
        :param on: the first simulated date of the change.
        :param outcome: a key of :data:`~..users.RESERVED_OUTCOMES`, or ``None`` for found.
        """
        if outcome is not None and outcome not in RESERVED_OUTCOMES:
            raise ValueError(
                f"outcome must be None or one of {', '.join(RESERVED_OUTCOMES)}; got {outcome!r}"
            )
        with self._lock:
            self._changes.setdefault(username.lower(), {})[on] = outcome

    def outcome_for(self, username: str) -> ReservedOutcome | None:
        """The outcome of ``username`` on the simulated date: scheduled, else reserved.

        :param username: the user asked for.
        """
        with self._lock:
            changes = self._changes.get(username.lower(), {})
            effective = [day for day in changes if day <= self._today]
            if effective:
                outcome = changes[max(effective)]
                return None if outcome is None else RESERVED_OUTCOMES[outcome]
        return reserved_outcome(username)
