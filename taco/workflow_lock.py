"""Stale Snakemake locks: a killed workflow leaves ``.snakemake/locks`` behind and the next run refuses
to start until ``snakemake --unlock``. ``python -m taco.workflow_lock`` (run by ``make reproduce``
before Snakemake) removes those locks only when no live Snakemake process works in the directory;
the locks of a live run are never touched. Live processes are read from ``/proc`` (Linux); where it
cannot be read, nothing is removed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

LOCKS = Path(".snakemake") / "locks"


def runs_snakemake(argv: list[str]) -> bool:
    """Whether a command line runs Snakemake (``snakemake ...`` or ``python -m snakemake ...``)."""
    return any(Path(arg).name == "snakemake" for arg in argv)


def live_snakemake_pids(workdir: Path, proc: Path = Path("/proc")) -> list[int] | None:
    """Ids of the live processes (other than this one) that run Snakemake in ``workdir``; None when
    ``proc`` cannot be read, so that the caller removes nothing."""
    if not proc.is_dir():
        return None
    workdir = Path(workdir).resolve()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = [arg.decode(errors="replace") for arg in (entry / "cmdline").read_bytes().split(b"\0") if arg]
            cwd = Path(os.readlink(entry / "cwd"))
            state = next((line for line in (entry / "status").read_text().splitlines()
                          if line.startswith("State:")), "")
        except OSError:  # the process ended meanwhile, or belongs to another user
            continue
        if "zombie" not in state and cwd == workdir and runs_snakemake(argv):
            found.append(int(entry.name))
    return found


def clear_stale_locks(workdir: str | Path = ".") -> list[Path]:
    """Remove ``workdir``'s Snakemake lock files when no live Snakemake process works there; return the
    files removed (none when a live run holds them or processes cannot be listed)."""
    workdir = Path(workdir)
    locks = sorted((workdir / LOCKS).glob("*.lock")) if (workdir / LOCKS).is_dir() else []
    if not locks:
        return []
    live = live_snakemake_pids(workdir)
    if live is None:
        print(f"cannot list processes: left {workdir / LOCKS} as it is", file=sys.stderr)
        return []
    if live:
        print(f"Snakemake is running in {workdir.resolve()} (pid {', '.join(map(str, live))}): its locks stay",
              file=sys.stderr)
        return []
    for lock in locks:
        lock.unlink(missing_ok=True)
    print(f"removed {len(locks)} stale Snakemake lock(s) of a killed run under {workdir / LOCKS}", file=sys.stderr)
    return locks


if __name__ == "__main__":
    clear_stale_locks(sys.argv[1] if len(sys.argv) > 1 else ".")
