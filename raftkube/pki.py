"""The cluster's credentials, made with ``cryptography``: a CA, server certificates, client certificates, tokens.

Everything lives under ``<data_dir>/pki/`` (files 0600, the folder 0700) and is made once: ``ensure_pki`` reuses
what exists and only adds what is missing (a new master or minion), so ``raftkube up`` and ``raftkube init`` can
run again and again.

```
pki/ca.crt ca.key                    the cluster CA (EC P-256, 10 years)
pki/masters/<name>.crt .key          server certificate of a master (and client: O masters, for kubelet ports):
                                     SANs its host, localhost, 127.0.0.1
pki/minions/<name>.crt .key          a minion's certificate: server (kubelet port) and client (CN node:<name>)
pki/admin.crt admin.key              the admin's client certificate (CN admin, O admin)
pki/tokens.csv                       the static token file: token,user,uid,"group1,group2"
```
A client certificate's CN is the user name and its O entries the groups; a token line names both too.
"""

from __future__ import annotations

import csv
import datetime
import io
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 3650
ADMIN_GROUP = "admin"
VIEWER_GROUP = "viewer"
NODES_GROUP = "nodes"
#: the masters' certificates (O masters): with the admin's, the only client certificates a kubelet port accepts
MASTERS_GROUP = "masters"


def node_user(name: str) -> str:
    return f"node:{name}"


@dataclass(frozen=True)
class Pki:
    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens.csv"

    def master(self, name: str) -> tuple[Path, Path]:
        return self.root / "masters" / f"{name}.crt", self.root / "masters" / f"{name}.key"

    def minion(self, name: str) -> tuple[Path, Path]:
        return self.root / "minions" / f"{name}.crt", self.root / "minions" / f"{name}.key"

    @property
    def admin(self) -> tuple[Path, Path]:
        return self.root / "admin.crt", self.root / "admin.key"

    def token_of(self, user: str) -> str | None:
        for t in read_tokens(self.tokens):
            if t.user == user:
                return t.token
        return None


@dataclass(frozen=True)
class Token:
    token: str
    user: str
    uid: str
    groups: tuple[str, ...]


def read_tokens(path: Path) -> list[Token]:
    """The static token file (Kubernetes' format: ``token,user,uid,"group1,group2"``; ``#`` lines are comments)."""
    out = []
    if not path.exists():
        return out
    for row in csv.reader(io.StringIO(path.read_text())):
        if not row or row[0].startswith("#"):
            continue
        if len(row) < 3 or not row[0] or not row[1]:
            raise ValueError(f"{path}: a line needs token,user,uid[,\"groups\"]: {','.join(row)!r}")
        groups = tuple(g.strip() for g in (row[3] if len(row) > 3 else "").split(",") if g.strip())
        out.append(Token(row[0], row[1], row[2], groups))
    return out


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs)


def _load_ca(pki: Pki):
    if not pki.ca_cert.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        name = _name("raftkube-ca")
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_private(pki.ca_key, _key_pem(key))
        _write_private(pki.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    return cert, key


def _issue(ca, paths: tuple[Path, Path], cn: str, orgs: tuple[str, ...] = (), hosts: tuple[str, ...] = (),
           server: bool = False, client: bool = False) -> None:
    crt, keyp = paths
    if crt.exists() and keyp.exists():
        return
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    b = (x509.CertificateBuilder().subject_name(_name(cn, orgs)).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if hosts:
        sans = []
        for h in dict.fromkeys(hosts):
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    _write_private(keyp, _key_pem(key))
    _write_private(crt, cert.public_bytes(serialization.Encoding.PEM))


def _ensure_tokens(pki: Pki, users: list[tuple[str, tuple[str, ...]]]) -> None:
    existing = read_tokens(pki.tokens)
    have = {t.user for t in existing}
    missing = [(u, g) for u, g in users if u not in have]
    if not missing and pki.tokens.exists():
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for t in existing:
        w.writerow([t.token, t.user, t.uid, ",".join(t.groups)])
    uid = len(existing)
    for user, groups in missing:
        uid += 1
        w.writerow([secrets.token_urlsafe(32), user, str(uid), ",".join(groups)])
    _write_private(pki.tokens, buf.getvalue().encode())


def ensure_pki(root: Path, masters: list[tuple[str, str]], minions: list[tuple[str, str]]) -> Pki:
    """Make what is missing under ``root``: the CA, a certificate per master and minion ((name, host) pairs),
    the admin's certificate, and tokens for the admin, a viewer and every minion. Existing files are kept."""
    pki = Pki(Path(root))
    pki.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = _load_ca(pki)
    for name, host in masters:
        _issue(ca, pki.master(name), name, (MASTERS_GROUP,), hosts=(host, "localhost", "127.0.0.1", name),
               server=True, client=True)
    for name, host in minions:
        _issue(ca, pki.minion(name), node_user(name), (NODES_GROUP,), hosts=(host, "localhost", "127.0.0.1", name),
               server=True, client=True)
    _issue(ca, pki.admin, "admin", (ADMIN_GROUP,), client=True)
    _ensure_tokens(pki, [("admin", (ADMIN_GROUP,)), ("viewer", (VIEWER_GROUP,))]
                   + [(node_user(n), (NODES_GROUP,)) for n, _ in minions])
    return pki
