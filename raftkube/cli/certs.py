"""`raftkube certs`: revoke client certificates of the cluster CA (README "Security", api/revocations.py).

``revoke`` reads each certificate file's serial number and subject (or takes ``--serial``) and posts them to
any master; the revocation is replicated, so every master refuses the certificate once it has applied it.
"""

from __future__ import annotations

from pathlib import Path

import click

from raftkube.cli.options import server_option
from raftkube.cli.targets import make_client
from raftkube.model.validation import serial_hex


def certificate_id(path: Path) -> tuple[str, str]:
    """(serial in hex, subject) of a PEM certificate file."""
    from cryptography import x509
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: not a PEM certificate: {exc}") from None
    return format(cert.serial_number, "x"), cert.subject.rfc4514_string()


@click.group()
def certs() -> None:
    """Client certificates of the cluster CA: revoke one, list the revoked ones."""


@certs.command("revoke")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--serial", "serials", multiple=True, metavar="HEX", help="a serial number instead of a file")
@click.option("--reason", default="", help="why, for the record (at most 256 characters)")
@server_option
def revoke(files: tuple[Path, ...], serials: tuple[str, ...], reason: str, server: str | None) -> None:
    """Revoke certificates: every master answers 401 to them from then on (tokens: remove the line from
    pki/tokens.csv instead; see README "Security").

    Example: raftkube certs revoke .raftkube/pki/minions/minion-2.crt --reason "disk stolen"
    """
    wanted = [certificate_id(f) for f in files]
    for s in serials:
        if not serial_hex(s):
            raise click.BadParameter(f"not a serial number in hex: {s!r}", param_hint="--serial")
        wanted.append((serial_hex(s), ""))
    if not wanted:
        raise click.UsageError("name a certificate file or give --serial")
    client = make_client(server)
    for serial, subject in wanted:
        out = client.request("POST", "/raft/revocations",
                             body={"serial": serial, "subject": subject, "reason": reason}).json()
        click.echo(f"revoked {out['serial']}" + (f" ({out['subject']})" if out["subject"] else ""))


@certs.command("unrevoke")
@click.argument("serial")
@server_option
def unrevoke(serial: str, server: str | None) -> None:
    """Take a revocation back (the certificate is valid again).

    Example: raftkube certs unrevoke 5f2c0e...
    """
    name = serial_hex(serial)
    if not name:
        raise click.BadParameter(f"not a serial number in hex: {serial!r}", param_hint="SERIAL")
    make_client(server).request("DELETE", f"/raft/revocations/{name}")
    click.echo(f"{name} is no longer revoked")


@certs.command("revoked")
@server_option
def revoked(server: str | None) -> None:
    """List the revoked certificates: serial, when, subject, reason."""
    view = make_client(server).request("GET", "/raft/revocations").json()
    rows = [("SERIAL", "REVOKED AT", "SUBJECT", "REASON")]
    rows += [(r["serial"], r["revokedAt"], r["subject"], r["reason"]) for r in view["revoked"]]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


#: the commands this module adds to the ``raftkube`` group
COMMANDS = (certs,)
