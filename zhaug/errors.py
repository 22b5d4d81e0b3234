"""Error types with messages meant for users."""


class ZhaugError(Exception):
    """Base class: the CLI prints these as one clear line and exits non-zero."""


class InputError(ZhaugError):
    """Bad input data: names the file, the row (line) and the problem."""

    def __init__(self, path: object, problem: str, line: int | None = None):
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = path, line, problem


class MissingResourceError(ZhaugError):
    """A model or data resource is not available; the message says what to pass or install."""
