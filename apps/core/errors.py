"""Application errors: raised by services, mapped once to HTTP (apps.core.api_errors)."""


class ApplicationError(Exception):
    """A rule was broken; ``code`` is stable for clients, ``message`` is for people."""

    status = 400

    def __init__(self, message: str, *, code: str = "invalid", extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}


class ConflictError(ApplicationError):
    """The item changed under the caller (stale version, already claimed, wrong state)."""

    status = 409

    def __init__(self, message: str, *, code: str = "conflict", extra: dict | None = None) -> None:
        super().__init__(message, code=code, extra=extra)
