"""What the server's services refuse, as domain errors; the routes map them to status codes.

The services never speak HTTP: they raise these (or the store's and the libraries' own
:class:`~afterbeat.errors.AfterbeatError` subclasses) and :mod:`afterbeat.server.routes` turns
each into a status code in one table.
"""

from __future__ import annotations

from afterbeat.errors import AfterbeatError

__all__ = [
    "AssessmentRunning",
    "FixedPace",
    "NeedsRecording",
    "NoAssessment",
    "NoResetRunning",
    "NoStore",
    "ServiceRefused",
    "SessionIsLive",
]


class ServiceRefused(AfterbeatError):
    """A valid request that the server's present state refuses (the routes answer 409)."""


class NoStore(ServiceRefused):
    """This server keeps no recordings (no store), so there is nothing to read or change."""


class NoResetRunning(ServiceRefused):
    """The request needs a running reset and none runs."""


class FixedPace(ServiceRefused):
    """The running reset keeps its own pace; only resonance breathing changes pace."""


class SessionIsLive(ServiceRefused):
    """The session is being recorded now; it can be erased once the server stops."""


class AssessmentRunning(ServiceRefused):
    """A resonance assessment is already running; one at a time."""


class NoAssessment(ServiceRefused):
    """The request needs a running resonance assessment and none runs."""


class NeedsRecording(ServiceRefused):
    """The request needs a strap (or a replay) being recorded now."""
