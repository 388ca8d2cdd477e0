"""How long do the test tiers take, against an older suite, side by side on one machine?

Each CHECKOUT is a clone with its own `.venv` (`make install` there: an editable install of that clone,
so that its kernels import its own code). The tiers run one after the other, in the order given, each
as its Makefile would run it (`make test-fast`: `-m "not slow"`; `make test`: everything), and the
table gives each one's wall time, its pytest summary and the ratio to the first checkout's same tier.
A checkout whose suite has no `slow` marker (before the tiers existed) runs its whole suite for both.

    git clone -q . /tmp/old && git -C /tmp/old checkout -q c56e36f && make -C /tmp/old install
    git clone -q . /tmp/new && make -C /tmp/new install
    python bench/test_suite.py /tmp/old /tmp/new [--tier fast all]

The machine must be otherwise idle for the times to mean anything (the load average is printed before
and after each run); tests that wait on a limit or a kernel take longer on a busy one.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

TIERS = {"fast": ["-m", "not slow"], "all": []}


def has_tiers(checkout: Path) -> bool:
    return "slow:" in (checkout / "pyproject.toml").read_text()


def run_tier(checkout: Path, tier: str) -> tuple[float, str, int]:
    """(wall seconds, pytest's last line, exit code) of one tier in one checkout."""
    args = TIERS[tier] if has_tiers(checkout) or tier == "all" else []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADE_", "PYTEST_"))}
    env["PATH"] = f"{checkout / '.venv' / 'bin'}:{env['PATH']}"
    started = time.perf_counter()
    proc = subprocess.run([str(checkout / ".venv" / "bin" / "python"), "-m", "pytest", "-q", *args], cwd=checkout,
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    summary = next((line.strip("= ") for line in reversed(proc.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed)", line)), proc.stdout[-200:])
    return wall, summary, proc.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="+", type=Path, help="clones with a .venv each; the first is the baseline")
    parser.add_argument("--tier", nargs="+", choices=sorted(TIERS), default=["fast", "all"])
    args = parser.parse_args(argv)
    for checkout in args.checkouts:
        if not (checkout / ".venv" / "bin" / "python").exists():
            parser.error(f"{checkout} has no .venv: run `make install` there first")
    rows = []
    for tier in args.tier:
        first = None
        for checkout in args.checkouts:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True,
                                    text=True).stdout.strip()
            print(f"[{tier}] {checkout} ({commit}), load average before: {os.getloadavg()}", file=sys.stderr)
            wall, summary, code = run_tier(checkout, tier)
            first = first or wall
            rows.append((tier, f"{checkout} ({commit})", wall, wall / first, code, summary))
            print(f"[{tier}] {wall:.0f} s, exit {code}: {summary}; load average after: {os.getloadavg()}",
                  file=sys.stderr)
    print("| tier | checkout | wall (s) | vs first | exit | pytest |")
    print("|---|---|---:|---:|---:|---|")
    for tier, name, wall, ratio, code, summary in rows:
        print(f"| {tier} | {name} | {wall:.0f} | {ratio:.2f}x | {code} | {summary} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
