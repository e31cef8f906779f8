"""The command line: `raftkube master`, and (as `kubecfg` too) the client commands. The only user of click."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from raftkube import __version__
from raftkube.config import ConfigError, load

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT, stream=sys.stderr)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum, frame):
        logging.getLogger("raftkube").info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


@click.group(context_settings={"help_option_names": ["--help"]})
@click.version_option(__version__, prog_name="raftkube")
def main() -> None:
    """raftkube: the 2014 Kubernetes design with its store replicated by Raft inside three masters."""


@main.command()
@click.argument("name")
@click.option("--config", "config_path", default="cluster.toml", show_default=True,
              help="cluster description (masters, ports, data directory)")
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def master(name: str, config_path: str, verbose: bool) -> None:
    """Run master NAME of the cluster: Raft replica of the store and the REST API.

    Example: raftkube master m1 --config cluster.toml
    """
    _setup_logging(verbose)
    try:
        config = load(config_path)
        config.master(name)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    from raftkube.master import run_master
    stop = _stop_on_signals()
    try:
        run_master(config, name, stop)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"master {name}: {exc}") from None


if __name__ == "__main__":
    main()
