"""The command line: `raftkube master`, and (as `kubecfg` too) the client commands. The only user of click.

``main`` is the ``raftkube``/``kubecfg`` group (the console scripts' ``raftkube.cli:main``); its commands
live in the modules of this package, each with one job:

- ``argv``: Go-style flags before or after the command (``normalize_argv``), errors as one line;
- ``options``: the options several commands share, Go-style durations;
- ``targets``: resource words, ``pods/redis`` targets, which masters, API paths;
- ``objects``: reading ``-c FILE``, checking it locally, what ``run`` builds, printing (``printers``);
- ``kubecfg``: the client commands (create, list, get, update, delete, resize, ..., logs);
- ``rollout``: what resize --wait, stop, rm and rollingupdate do, without click;
- ``process``: the process commands (master, up, minion), with logging and signal handling;
- ``operate``: `raftkube members` and `raftkube snapshot` (operating the masters);
- ``verify``: `raftkube verify`, the fault verifier (raftkube/verify/).
"""

from __future__ import annotations

import click

from raftkube import __version__
from raftkube.cli import certs, kubecfg, operate, process, verify
from raftkube.cli.argv import KubecfgGroup

__all__ = ["main"]


@click.group(cls=KubecfgGroup, context_settings={"help_option_names": ["--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="raftkube")
def main() -> None:
    """raftkube: the 2014 Kubernetes design with its store replicated by Raft inside three masters.

    `raftkube master NAME` runs a master. The other commands are the 2014 `kubecfg` client
    (`kubecfg` is the same program): they talk v1beta1 HTTP to any master and fail over across them.

    \b
    Flags may come before the command, Go style, as in the 2014 article:
      kubecfg -c examples/redis.json create /pods
      kubecfg list /pods
      kubecfg -c examples/redisController.json create /replicationControllers
    or after it:
      raftkube list pods -l name=redis -json

    \b
    Server: -h URL[,URL...], else $KUBERNETES_MASTER, else the masters of ./cluster.toml,
    else http://localhost:8080. (-h is the server, as in kubecfg; help is --help.)

    \b
    Shell completion (bash; use zsh_source / fish_source for those shells):
      eval "$(_RAFTKUBE_COMPLETE=bash_source raftkube)"
      eval "$(_KUBECFG_COMPLETE=bash_source kubecfg)"
    """


for _command in (*process.COMMANDS, *kubecfg.COMMANDS, *operate.COMMANDS, *certs.COMMANDS, *verify.COMMANDS):
    main.add_command(_command)
