"""`raftkube verify`: the built-in fault verifier (raftkube/verify/). Exit 0 only when every check holds."""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
from pathlib import Path

import click

from raftkube.cli.process import setup_logging


def _faults(ctx, param, value: str) -> list[str]:
    from raftkube.verify.nemesis import FAULTS
    faults = [f.strip() for f in value.split(",") if f.strip()] if value not in ("", "none") else []
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {','.join(FAULTS)} (or none)")
    return faults


@click.command()
@click.option("--seconds", type=click.FloatRange(5, 24 * 3600), default=60, show_default=True,
              help="how long the workload runs under faults")
@click.option("--faults", default="kill,pause,partition,netem,power", show_default=True, callback=_faults,
              help="comma-separated: kill,pause,partition,netem,power (or none)")
@click.option("--seed", type=int, default=0, show_default=True, help="seeds the fault schedule and the clients")
@click.option("--report", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("verify-report"),
              show_default=True, help="folder for the history, the masters' logs and report.html")
@click.option("--masters", type=click.IntRange(3, 7), default=3, show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def verify(seconds: float, faults: list[str], seed: int, folder: Path, masters: int, verbose: bool) -> None:
    """Start masters in network namespaces of their own (root: ip, nft, FUSE), drive a workload through the
    API while injecting faults, check the history (linearizable registers, acknowledged creates, watches,
    availability) and write a report.

    \b
    Example:
      sudo raftkube verify --seconds 600 --faults kill,pause,partition,netem,power --seed 20
    """
    setup_logging(verbose)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1: every thread's stack on stderr
    from raftkube.verify.run import Options, run
    outcome = run(Options(seconds=seconds, faults=faults, seed=seed, masters=masters, folder=folder),
                  out=click.echo)
    sys.exit(0 if outcome.ok else 1)


COMMANDS = (verify,)
