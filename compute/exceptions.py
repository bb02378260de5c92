"""One exception root for the domain, each subclass carrying the HTTP code and Nova's text.

The edges map ``ComputeError`` in one place: the API to Nova's fault body
(``{"conflictingRequest": {"code": 409, "message": …}}``), the pages to a message banner.
"""

from __future__ import annotations


class ComputeError(Exception):
    code: int = 500
    #: Nova's fault key for the code.
    fault: str = "computeFault"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ComputeError):
    """A malformed or unacceptable request (400)."""

    code = 400
    fault = "badRequest"


class Forbidden(ComputeError):
    code = 403
    fault = "forbidden"


class NotFound(ComputeError):
    code = 404
    fault = "itemNotFound"


class Conflict(ComputeError):
    code = 409
    fault = "conflictingRequest"


class InstanceInvalidState(Conflict):
    """A precondition of the action table failed.

    ``attr`` is ``vm_state``, ``task_state`` or ``launched_at``; ``state`` the offending value.
    A lock reaches the same text with no state (``attr`` ``locked``) where Nova's REST handler
    catches ``InstanceIsLocked`` as an ``InstanceInvalidState`` (changePassword, restore).
    The text is the REST one Nova builds in ``raise_http_conflict_for_instance_invalid_state``.
    """

    def __init__(self, *, instance_uuid: str, action: str, attr: str, state: str | None) -> None:
        self.instance_uuid = instance_uuid
        self.action = action
        self.attr = attr
        self.state = state
        if state is not None:
            text = f"Cannot '{action}' instance {instance_uuid} while it is in {attr} {state}"
        else:
            text = f"Instance {instance_uuid} is in an invalid state for '{action}'"
        super().__init__(text)


class InstanceIsLocked(Conflict):
    def __init__(self, *, instance_uuid: str) -> None:
        self.instance_uuid = instance_uuid
        super().__init__(f"Instance {instance_uuid} is locked")


class InstanceNotReady(Conflict):
    def __init__(self, *, instance_uuid: str) -> None:
        super().__init__(f"Instance {instance_uuid} is not ready")


class ServiceUnavailable(Conflict):
    def __init__(self) -> None:
        super().__init__("Service is unavailable at this time.")


class UnexpectedTaskState(Conflict):
    """The conditional UPDATE found another task_state: somebody else won the race.

    Nova surfaces this as a 500 in most handlers; here it is a 409 (a lost race is the
    caller's to retry, not a server fault), with Nova's ``InstanceUpdateConflict`` text: the
    expected values as the list the save was conditional on, the actual one as found.
    """

    def __init__(self, *, instance_uuid: str, expected: object, actual: object) -> None:
        self.instance_uuid = instance_uuid
        self.expected = expected
        self.actual = actual
        if expected is None or isinstance(expected, str):
            expected_values: list[object] = [expected]
        else:
            expected_values = list(expected)  # type: ignore[call-overload]
        super().__init__(
            f"Conflict updating instance {instance_uuid}. "
            f"Expected: {{'task_state': {expected_values!r}}}. "
            f"Actual: {{'task_state': {actual!r}}}"
        )


class NoValidHost(ComputeError):
    code = 400
    fault = "badRequest"

    def __init__(self, reason: str = "") -> None:
        text = "No valid host was found. " + (reason or "There are not enough hosts available.")
        super().__init__(text)


class ComputeServiceInUse(Invalid):
    """Evacuate asks for a host that is down; Nova's 400 when it is up."""

    def __init__(self, *, host: str) -> None:
        super().__init__(f"Compute service of {host} is still in use.")


class DriverError(ComputeError):
    """The hypervisor refused or failed an operation."""


class InstanceNotFoundOnHypervisor(DriverError):
    def __init__(self, uuid: str) -> None:
        super().__init__(f"Instance {uuid} could not be found on the hypervisor.")


class MigrationAborted(DriverError):
    """The hypervisor stopped a live migration an admin aborted; the guest runs on the source."""

    def __init__(self, uuid: str) -> None:
        super().__init__(f"Live migration of instance {uuid} was aborted.")


class ConsoleNotAvailable(NotFound):
    """Nova's ``ConsoleNotAvailable``: the guest has no console this dashboard can reach."""

    def __init__(self) -> None:
        super().__init__("Guest does not have a console available.")


class ConsoleTypeInvalid(Invalid):
    def __init__(self, *, console_type: str) -> None:
        super().__init__(f"Invalid console type {console_type}")


class ConsoleTypeUnavailable(Invalid):
    def __init__(self, *, console_type: str) -> None:
        super().__init__(f"Unavailable console type {console_type}.")


class InvalidToken(Invalid):
    """Nova's ``InvalidToken``: a console token unknown, used already or expired."""

    def __init__(self, *, token: str) -> None:
        super().__init__(f"The token '{token}' is invalid or has expired")


class NotImplementedFeature(ComputeError):
    """Nova's ``raise_feature_not_supported``: 501."""

    code = 501
    fault = "notImplemented"

    def __init__(self) -> None:
        super().__init__("The requested functionality is not supported.")
