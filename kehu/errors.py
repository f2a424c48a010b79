"""Domain errors with stable codes; the CLI and the HTTP layer map them in one place."""

import attrs


class KehuError(Exception):
    """Base of every error kehu reports to a user; ``code`` is stable and machine-readable."""

    code = "error"

    def __init__(self, message, code=None, details=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_dict(self):
        data = {"error": self.message, "code": self.code}
        if self.details:
            data["details"] = self.details
        return data


class Invalid(KehuError):
    """Bad input: a wrong type, an out-of-range value, an unknown choice, a missing required value."""

    code = "invalid"


class NotFound(KehuError):
    code = "not_found"


class PermissionDenied(KehuError):
    code = "permission_denied"


class PluginDisabled(KehuError):
    code = "plugin_disabled"


class Conflict(KehuError):
    """The request clashes with stored state (a duplicate name, a concurrent change)."""

    code = "conflict"


class Vetoed(KehuError):
    """One or more plugins vetoed the operation; ``details["reasons"]`` lists every reason."""

    code = "vetoed"


@attrs.frozen
class Veto:
    """What a ``kehu_before_*`` hook returns to refuse a record. Never raise to veto: return this."""

    reason: str
    code: str = "vetoed"
