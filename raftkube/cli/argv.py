"""kubecfg's command lines: Go-style flags before or after the command, and errors as one line on stderr.

The 2014 ``kubecfg`` (``cmd/kubecfg/kubecfg.go``) takes Go-style flags such as ``-c redis.json``, ``-json``
or ``-h URL`` before the command, as in the article (``kubecfg -c redis.json create /pods``); raftkube also
takes them after it (``raftkube list pods -l name=redis``). ``normalize_argv`` rewrites the first form into
the second before click parses anything; ``KubecfgGroup`` is the click group that does so and turns the
errors a command lets through (API errors, failed requests, a rollout that cannot finish) into one line.
"""

from __future__ import annotations

import os
import sys

import click
import requests

from raftkube.cli.rollout import RolloutError
from raftkube.model.errors import ApiError, Invalid

#: kubecfg flags that take a value (single-letter ones keep one dash; long ones get two)
VALUE_FLAGS = frozenset({"c", "h", "l", "p", "s", "u", "image", "fields", "timeout", "server", "file",
                         "tail", "uid", "resource-version", "certificate-authority", "token", "client-certificate", "client-key"})
#: kubecfg flags that are booleans: ``-json``, ``-json=true``, ``-json=false``
BOOL_FLAGS = frozenset({"json", "yaml", "wait", "follow"})
#: the commands whose flags follow kubecfg's rules (``master`` and others keep plain click parsing)
CLIENT_COMMANDS = ("create", "list", "get", "update", "delete", "resize", "stop", "rm", "run",
                   "rollingupdate", "events", "status", "logs")
_FALSE = ("false", "0", "f", "no")


def _normalize_flag(tok: str) -> list[str]:
    """One Go-style flag token -> click tokens: ``-json`` -> ``--json``, ``-c=f`` -> ``-c f``."""
    if tok.startswith("--"):
        name, eq, value = tok[2:].partition("=")
        dashes = "--"
    elif tok.startswith("-") and len(tok) > 1:
        name, eq, value = tok[1:].partition("=")
        dashes = "-" if len(name) == 1 else "--"
    else:
        return [tok]
    if name in BOOL_FLAGS:
        if eq and value.lower() in _FALSE:
            return []
        return ["--" + name]
    if name in VALUE_FLAGS:
        return [dashes + name, value] if eq else [dashes + name]
    return [tok]


def normalize_argv(args: list[str]) -> list[str]:
    """Accept kubecfg's command lines: Go-style flags, before or after the command.

    ``-c redis.json create /pods`` -> ``create -c redis.json /pods``; ``-json`` -> ``--json``;
    ``-json=false`` is dropped; ``-c=x`` -> ``-c x``. Only the client commands are rewritten; anything
    after ``--`` is left alone. ``--help`` and ``--version`` before a command stay where they are.
    """
    before: list[str] = []
    i = 0
    command_at = None
    while i < len(args):
        tok = args[i]
        if tok == "--" or not tok.startswith("-") or tok == "-":
            command_at = i if tok != "--" else None
            break
        converted = _normalize_flag(tok)
        before.extend(converted)
        name = tok.lstrip("-")
        if "=" not in name and name in VALUE_FLAGS and i + 1 < len(args):
            before.append(args[i + 1])
            i += 1
        i += 1
    if command_at is None or args[command_at] not in CLIENT_COMMANDS:
        return list(args)
    command = args[command_at]
    keep_before = [t for t in before if t in ("--help", "--version")]
    moved = [t for t in before if t not in ("--help", "--version")]
    after: list[str] = []
    rest = args[command_at + 1:]
    for j, tok in enumerate(rest):
        if tok == "--":
            after.extend(rest[j:])
            break
        after.extend(_normalize_flag(tok))
    return keep_before + [command] + moved + after


class KubecfgGroup(click.Group):
    """The ``raftkube``/``kubecfg`` group: kubecfg-style argv, and API errors as one line on stderr."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalize_argv(args))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            raise click.ClickException(api_message(exc)) from None
        except RolloutError as exc:
            raise click.ClickException(str(exc)) from None
        except requests.RequestException as exc:
            raise click.ClickException(f"request failed: {exc.__class__.__name__}: {exc}") from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # e.g. `raftkube list pods | head -1`: stop quietly
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            ctx.exit(1)


def api_message(exc: ApiError) -> str:
    """The Status message; every further field error of an Invalid on the same line."""
    msg = exc.message
    if isinstance(exc, Invalid) and len(exc.causes) > 1:
        msg += "; " + "; ".join(c.message for c in exc.causes[1:])
    return msg
