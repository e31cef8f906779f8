"""raftkube/pki.py: the CA, certificates and token file, made once and reused."""

import ssl

from cryptography import x509

from raftkube.pki import ensure_pki, read_tokens


def test_pki_files_private_certificates_verify_and_second_run_reuses(tmp_path):
    pki = ensure_pki(tmp_path / "pki", [("m1", "10.0.0.1")], [("minion-1", "10.0.0.7")])
    for path in tmp_path.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
    crt, key = pki.minion("minion-1")
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    assert cert.subject.rfc4514_string() == "O=nodes,CN=node:minion-1"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.0.0.7" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))  # the CA loads; the chains load with their keys
    ctx.load_cert_chain(str(crt), str(key))
    ctx.load_cert_chain(*map(str, pki.master("m1")))
    tokens = {t.user: t for t in read_tokens(pki.tokens)}
    assert tokens["admin"].groups == ("admin",) and tokens["node:minion-1"].groups == ("nodes",)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    ensure_pki(tmp_path / "pki", [("m1", "10.0.0.1")], [("minion-1", "10.0.0.7"), ("minion-2", "10.0.0.8")])
    assert all(p.read_bytes() == b for p, b in before.items() if p.name != "tokens.csv")
    after = {t.user: t.token for t in read_tokens(pki.tokens)}
    assert after["admin"] == tokens["admin"].token and "node:minion-2" in after
