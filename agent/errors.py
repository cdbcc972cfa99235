"""Configuration errors that name the file, the line and the key path."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "ConfigError"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the configuration.

    :ivar file: the YAML file the value came from (or the closest one known).
    :ivar line: 1-based line of the key, 0 when unknown.
    :ivar path: dotted key path (``sinks.siem.retry.max_attempts``).
    :ivar message: what was expected and what was found; never a secret's value.
    """

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line:
            where = f"{where}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", 0, "", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.problems)
        head = "invalid configuration" if n == 1 else f"invalid configuration ({n} problems)"
        return head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)
