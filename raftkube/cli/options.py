"""The options several client commands share (-h, -json/-yaml, --wait/--timeout) and Go-style durations."""

from __future__ import annotations

import re

import click

# ---- durations (Go style: 60s, 1m30s, 500ms) ------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """``60s``, ``1m30s``, ``500ms``, ``2h`` or plain seconds ``5`` -> seconds."""
    t = text.strip()
    try:
        return float(t)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t:
        raise ValueError(f"invalid duration {text!r} (examples: 60s, 1m30s, 500ms)")
    return total


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


# ---- shared options -------------------------------------------------------------------------------

#: for https masters (README "Security"): (flag, field of client.Credentials, environment variable, help)
CREDENTIAL_OPTIONS = (
    ("--certificate-authority", "ca_file", "RAFTKUBE_CA_FILE",
     "CA file to verify https masters with [default: <data_dir>/pki/ca.crt of ./cluster.toml]"),
    ("--token", "token", "RAFTKUBE_TOKEN",
     "bearer token for https masters [default: the admin's, from the token file of ./cluster.toml]"),
    ("--client-certificate", "cert_file", "RAFTKUBE_CLIENT_CERT", "client certificate file for https masters"),
    ("--client-key", "key_file", "RAFTKUBE_CLIENT_KEY", "its private key file"),
)


def _remember_credential(ctx, param, value):
    if value:
        ctx.meta.setdefault("raftkube.credentials", {})[param.name] = value
    return value


def server_option(f):
    for flag, field, env, text in reversed(CREDENTIAL_OPTIONS):
        f = click.option(flag, field, envvar=env, metavar="FILE" if field != "token" else "TOKEN", help=text,
                         expose_value=False, callback=_remember_credential)(f)
    return click.option("-h", "--server", metavar="URL[,URL...]",
                        help="master API URLs, tried in order [default: $KUBERNETES_MASTER, the masters "
                             "of ./cluster.toml, http://localhost:8080]")(f)


def output_options(f):
    f = click.option("--yaml", "as_yaml", is_flag=True, help="print YAML (also -yaml)")(f)
    f = click.option("--json", "as_json", is_flag=True, help="print the v1beta1 JSON (also -json)")(f)
    return f


_wait_options = [
    click.option("--wait", is_flag=True, help="wait until currentState.replicas matches, showing progress"),
    click.option("--timeout", "timeout_s", type=DURATION, default="60s", show_default=True,
                 help="with --wait: give up (exit 1) after this long"),
]


def wait_options(f):
    for opt in reversed(_wait_options):
        f = opt(f)
    return f


def output_format(as_json: bool, as_yaml: bool, default: str = "human") -> str:
    """``json``, ``yaml`` or ``default``, from the -json and -yaml flags (not both)."""
    if as_json and as_yaml:
        raise click.UsageError("choose one of -json and -yaml")
    return "json" if as_json else "yaml" if as_yaml else default
