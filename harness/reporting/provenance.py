"""Where a run came from: the exact command, the versions that computed it and the git commit of the code.

A report is evidence only if a reader can rerun it: the headline of every index states these three. They are
content, not timing (the same command on the same checkout gives the same values), so they live in
``index.json`` beside the seed. Versions are read from the installed metadata, without importing anything.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

COMMAND_VARIABLE = "FLOWLAWS_COMMAND"  # set by ``flowlaws run`` for its pytest session: the user's own command
PACKAGES = ("flowlaws", "hypothesis", "numba", "numpy", "torch")


@dataclass(frozen=True)
class Provenance:
    """The command line, the versions (Python and ``PACKAGES``) and the git commit (``+dirty`` if edited)."""

    command: str
    versions: dict[str, str] = field(default_factory=dict)
    commit: str | None = None

    def rows(self) -> list[tuple[str, str]]:
        versions = ", ".join(f"{name} {number}" for name, number in self.versions.items())
        return [("command", self.command), ("versions", versions), ("git commit", self.commit or "not a git checkout")]

    def to_dict(self) -> dict:
        return {"command": self.command, "versions": dict(self.versions), "commit": self.commit}

    @classmethod
    def from_dict(cls, record) -> Provenance | None:
        if not isinstance(record, dict):
            return None
        return cls(str(record.get("command", "")), dict(record.get("versions") or {}), record.get("commit"))


def installed_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(root: str | Path) -> str | None:
    """HEAD of the checkout at ``root``, with ``+dirty`` when tracked files differ from it; None outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = head.stdout.strip()
    return commit + ("+dirty" if status.returncode == 0 and status.stdout.strip() else "")


def current_command(argv: list[str] | None = None) -> str:
    """The command as the user typed it: ``flowlaws run ...`` when that launched pytest, else pytest's argv."""
    given = os.environ.get(COMMAND_VARIABLE)
    if given:
        return given
    argv = list(sys.argv if argv is None else argv)
    program = Path(argv[0]).name if argv else "python"
    if program in ("pytest", "py.test", "__main__.py", "pytest.py") or program.endswith("-script.py"):
        program = "pytest"
    return shlex.join([program, *argv[1:]])


def collect(root: str | Path, command: str | None = None) -> Provenance:
    return Provenance(command or current_command(), installed_versions(), git_commit(root))
