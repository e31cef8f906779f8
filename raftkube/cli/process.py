"""The process commands: ``raftkube master``, ``up`` and ``minion``, each with logging and signal handling.

Each reads its configuration, sets up logging on stderr, turns SIGTERM and SIGINT into a stop event and
hands over to the process it runs (``raftkube.master``, ``raftkube.up``, ``raftkube.minion.node``), which
are imported only when the command runs, so the client commands do not load them.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

import click

from raftkube.cli.targets import KUBELET_PORT
from raftkube.client import Credentials, HttpClient
from raftkube.config import ConfigError, load

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT, stream=sys.stderr)


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT: the process's cue to shut down."""
    stop = threading.Event()

    def handler(signum, frame):
        logging.getLogger("raftkube").info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _join_seed(config, name: str, url: str, wait_s: float = 10.0) -> dict[str, dict]:
    """The member list of the cluster at ``url`` (``GET /raft/members``), which must name ``name``: records
    (state/members.py) to seed this master's new data directory with. An https URL is verified with the cluster
    CA in --config's pki and asked with its admin token."""
    from raftkube.pki import Pki
    creds = Credentials()
    if url.startswith("https://"):
        pki = Pki(config.pki_dir)
        creds = Credentials(ca_file=str(pki.ca_cert), token=pki.token_of("admin"))
    client = HttpClient([url], timeout_s=10.0, retry_for_s=5.0, credentials=creds)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            view = client.request("GET", "/raft/members").json()
        except Exception as exc:
            raise click.ClickException(f"--join {url}: {exc}") from None
        seed = {m["name"]: {"name": m["name"], "host": m["host"], "apiPort": m["apiPort"],
                            "raftPort": m["raftPort"], "securePort": m.get("securePort", 0)}
                for m in view["members"]}
        if name in seed:
            return seed
        if time.monotonic() > deadline:  # the add may still be on its way to the master asked
            raise click.ClickException(f"--join {url}: the cluster has no master {name} (members: "
                                       f"{', '.join(sorted(seed))}); add it first: raftkube members add {name} "
                                       "--host H --api-port P --raft-port R")
        time.sleep(0.2)


@click.command()
@click.argument("name")
@click.option("--config", "config_path", default="cluster.toml", show_default=True,
              help="cluster description (masters, ports, data directory)")
@click.option("--join", "join_url", default=None, metavar="URL",
              help="a new master: the API URL of any master of the cluster, to learn the member list from (after "
                   "`raftkube members add NAME ...`); the cluster's secret and pki come from --config's data_dir")
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def master(name: str, config_path: str, join_url: str | None, verbose: bool) -> None:
    """Run master NAME of the cluster: Raft replica of the store and the REST API.

    A master added at runtime starts with --join URL once; afterwards its data directory holds the member list.

    Examples: raftkube master m1 --config cluster.toml; raftkube master m4 --join http://127.0.0.1:8080
    """
    setup_logging(verbose)
    try:
        config = load(config_path)
        if join_url is None and not config.master_dir(name).is_dir():
            config.master(name)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    seed = _join_seed(config, name, join_url) if join_url else None
    from raftkube.master import StartError, run_master
    stop = stop_on_signals()
    try:
        run_master(config, name, stop, seed)
    except (ConfigError, StartError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"master {name}: {exc}") from None


@click.command()
@click.option("--config", "config_path", default="cluster.toml", show_default=True,
              help="cluster description (masters, ports, data directory)")
@click.option("--minions", type=click.IntRange(0, 100), default=1, show_default=True, help="local minions to start")
@click.option("--runtime", type=click.Choice(["docker", "hollow"]), default="docker", show_default=True,
              help="docker: real containers; hollow: simulated (no Docker needed)")
@click.option("--container-label", "container_labels", multiple=True,
              help="extra label k=v on every container the minions start (tests use it to find their own)")
def up(config_path: str, minions: int, runtime: str, container_labels: tuple[str, ...]) -> None:
    """Run a whole local cluster in the foreground: the masters of the config and N minions.

    Every process's output is shown with a [name] prefix; a process that dies is restarted; Ctrl-C stops
    everything. Data stays on disk, so the next `up` brings the same objects back.

    Example: raftkube up --minions 2          (then, in another shell: kubecfg list /pods)
    """
    setup_logging(False)
    try:
        config = load(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if runtime == "docker" and minions:
        import shutil
        import subprocess
        docker = shutil.which("docker")
        if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
            raise click.ClickException(
                "the Docker engine is not reachable: start it (scripts/up does it, installing Debian's docker.io "
                "if needed), or use --runtime hollow")
    from raftkube.up import run_up
    stop = stop_on_signals()
    code = run_up(config, minions, runtime, stop, container_labels=container_labels)
    if code:
        sys.exit(code)


@click.command()
@click.option("--config", "config_path", default="cluster.toml", show_default=True,
              help="cluster description (masters, ports, data directory)")
@click.option("--minion", "minions", multiple=True, metavar="NAME[=ADDRESS]",
              help="a minion to make a certificate and token for (repeatable; address default 127.0.0.1)")
def init(config_path: str, minions: tuple[str, ...]) -> None:
    """Make the cluster's credentials under <data_dir>/pki: CA, a certificate per master and minion, the admin's
    certificate, the token file (admin, viewer, node:<minion>). Existing files are kept; run it again to add one.

    Example: raftkube init --minion minion-1 --minion minion-2=10.0.0.12
    """
    from raftkube.pki import ensure_pki
    try:
        config = load(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    pairs = [(n, a or "127.0.0.1") for n, _, a in (m.partition("=") for m in minions)]
    pki = ensure_pki(config.pki_dir, [(m.name, m.host) for m in config.masters], pairs)
    click.echo(f"credentials in {pki.root} (CA {pki.ca_cert}, tokens {pki.tokens})")


def _key_values(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint=what)
        out[key] = value
    return out


@click.command()
@click.option("--masters", default=None, help="master API URLs, comma-separated (default: those of ./cluster.toml)")
@click.option("--name", default=None, help="minion name (default: the hostname)")
@click.option("--address", default=None, help="this host's address (default: the one that reaches the masters)")
@click.option("--runtime", type=click.Choice(["docker", "hollow"]), default="docker", show_default=True)
@click.option("--port", type=int, default=KUBELET_PORT, show_default=True, help="kubelet HTTP port (-1: none)")
@click.option("--label", "labels", multiple=True, help="minion label k=v (repeatable)")
@click.option("--count", type=int, default=1, show_default=True, help="hollow minions in this process")
@click.option("--name-prefix", default="", help="with --count: minions are named <prefix><i>")
@click.option("--heartbeat", "heartbeat_s", type=float, default=5.0, show_default=True, help="seconds")
@click.option("--container-label", "container_labels", multiple=True, help="extra label k=v on every container")
@click.option("--proxy/--no-proxy", "run_proxy", default=None,
              help="run the service proxy (default: on with --runtime docker, off with hollow)")
@click.option("--proxy-share-ports", is_flag=True,
              help="the proxy listens with SO_REUSEPORT, sharing service ports with other minions of this host")
@click.option("--service-host", default="",
              help="where containers reach this minion's proxy (default: the docker bridge gateway)")
@click.option("--certificate-authority", "ca_file", default=None, metavar="FILE",
              help="with https masters: the cluster CA (raftkube init: <data_dir>/pki/ca.crt)")
@click.option("--client-certificate", "cert_file", default=None, metavar="FILE",
              help="this minion's certificate (pki/minions/<name>.crt; CN node:<name>); with the CA, the kubelet "
                   "port serves https with it (without: plain HTTP on loopback only)")
@click.option("--client-key", "key_file", default=None, metavar="FILE", help="its key (pki/minions/<name>.key)")
@click.option("--token", default=None, envvar="RAFTKUBE_TOKEN",
              help="or this minion's token (node:<name> in pki/tokens.csv) instead of a certificate")
@click.option("--credentials-dir", "creds_dir", default=None, metavar="DIR",
              help="with --count: each hollow minion NAME uses DIR/NAME.crt and DIR/NAME.key (pki/minions/ of "
                   "`raftkube init --minion NAME ...`), its own node credential")
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def minion(masters, name, address, runtime, port, labels, count, name_prefix, heartbeat_s, container_labels,
           run_proxy, proxy_share_ports, service_host, ca_file, cert_file, key_file, token, creds_dir, verbose):
    """Run a minion: register it, heartbeat, and run the pods bound to it (kubelet on Docker).

    \b
    Examples:
      raftkube minion --masters https://10.0.0.1:6443,https://10.0.0.2:6443 --name minion-2 \\
          --certificate-authority ca.crt --client-certificate minion-2.crt --client-key minion-2.key
      raftkube minion --runtime hollow --count 100 --name-prefix hollow-   (kubemark-style simulation)
    """
    import socket

    from raftkube.minion.node import MinionSettings, host_address, run_minion
    from raftkube.minion.server import KubeletTls
    setup_logging(verbose)
    if masters:
        urls = [u.strip() for u in masters.split(",") if u.strip()]
    else:
        try:
            urls = load("cluster.toml").api_urls
        except ConfigError as exc:
            raise click.ClickException(f"--masters not given and ./cluster.toml unusable: {exc}") from None
    if count > 1 and runtime != "hollow":
        raise click.UsageError("--count > 1 needs --runtime hollow")
    minion_name = name or socket.gethostname().lower()
    prefix = name_prefix or (f"{name or 'hollow'}-" if count > 1 else "")
    client_of = None
    if creds_dir:
        if not ca_file:
            raise click.UsageError("--credentials-dir needs --certificate-authority")
        names = [f"{prefix}{i}" for i in range(count)] if count > 1 else [minion_name]
        missing = [n for n in names if not (Path(creds_dir) / f"{n}.crt").is_file()]
        if missing:
            raise click.ClickException(f"--credentials-dir {creds_dir}: no certificate for {', '.join(missing[:5])}"
                                       f"{' ...' if len(missing) > 5 else ''} (raftkube init --minion NAME ...)")
        own = {n: HttpClient(urls, retry_for_s=3.0, credentials=Credentials(
            ca_file=ca_file, cert_file=str(Path(creds_dir) / f"{n}.crt"), key_file=str(Path(creds_dir) / f"{n}.key")))
            for n in names}
        client_of = own.__getitem__
        if not (cert_file or token):  # the proxy's, the pusher's default and the kubelet port's: the first one's
            cert_file, key_file = str(Path(creds_dir) / f"{names[0]}.crt"), str(Path(creds_dir) / f"{names[0]}.key")
    settings = MinionSettings(
        name=minion_name, address=address or host_address(urls), runtime=runtime,
        port=port, labels=_key_values(labels, "--label"), count=count,
        name_prefix=prefix, heartbeat_s=heartbeat_s,
        container_labels=_key_values(container_labels, "--container-label"), service_host=service_host,
        tls=KubeletTls(cert_file, key_file, ca_file) if cert_file and key_file and ca_file else None)
    creds = Credentials(ca_file=ca_file, token=token, cert_file=cert_file, key_file=key_file)
    stop = stop_on_signals()
    proxy = None
    collectors = []
    if run_proxy if run_proxy is not None else runtime == "docker":
        from raftkube.proxy.metrics import ProxyCollector
        from raftkube.proxy.service_proxy import ProxySettings, ServiceProxy
        proxy = ServiceProxy(HttpClient(urls, credentials=creds), settings.name,
                             ProxySettings(share_ports=proxy_share_ports)).start()
        collectors.append(ProxyCollector(proxy.proxier))  # on the kubelet port's /metrics
    try:
        run_minion(HttpClient(urls, retry_for_s=3.0, credentials=creds), settings, stop, client_of=client_of,
                   collectors=collectors)
    except OSError as exc:
        raise click.ClickException(f"minion: {exc}") from None
    finally:
        if proxy is not None:
            proxy.stop()


#: the commands this module adds to the ``raftkube`` group
COMMANDS = (master, up, minion, init)
