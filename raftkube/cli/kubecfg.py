"""The kubecfg client commands: create, list, get, update, delete, resize, stop, rm, run, rollingupdate,
events, status and logs.

Each parses its arguments, names its target (``targets``), sends the requests and prints the answer
(``objects``); what resize --wait, stop, rm and rollingupdate do to a controller lives in ``rollout``
without click. Errors a command lets through become one line on stderr in ``argv.KubecfgGroup``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import click
import requests

from raftkube.cli import printers, rollout
from raftkube.cli.objects import check_object, emit, parse_port_spec, read_object_file, run_objects
from raftkube.cli.options import DURATION, output_format, output_options, server_option, wait_options
from raftkube.cli.targets import (KUBELET_PORT, PODS, api_path, complete_resource, credentials, get_object,
                                  kubelet_credentials, make_client, parse_target, put_object, rc_name, server_urls)
from raftkube.client import Credentials
from raftkube.model.errors import NotFound
from raftkube.apis.v1beta1 import RESOURCES, delete_options
from raftkube.model.objects import DEFAULT_NAMESPACE


def _progress(line: str) -> None:
    """Progress of the long waits (resize --wait, rollingupdate): one line on stderr."""
    click.echo(line, err=True)


# ---- objects: create, list, get, update, delete -----------------------------------------------------

@click.command()
@click.argument("resource", shell_complete=complete_resource)
@click.option("-c", "--file", "source", metavar="FILE|URL|-",
              help="the object, as JSON or YAML: a file, an http(s) URL, or - for stdin")
@server_option
@output_options
def create(resource, source, server, as_json, as_yaml):
    """Create the object in -c FILE in RESOURCE (pods, replicationControllers, services, ...).

    The file may leave out kind and apiVersion; the resource implies them. It is checked before
    sending, and the created object is printed as a table.

    \b
    Example:
      kubecfg -c examples/redis.json create /pods
    """
    fmt = output_format(as_json, as_yaml)
    res, name = parse_target(resource, None, need_name=False, command="create")
    if name:
        raise click.UsageError(f"create takes a resource, not an object: create {res.plural}")
    if not source:
        raise click.UsageError("Need config file (-c)")
    body = read_object_file(source)
    check_object(res, body)
    emit(make_client(server).request("POST", api_path(res), body=body).json(), fmt)


@click.command("list")
@click.argument("resource", shell_complete=complete_resource)
@click.option("-l", "labels", metavar="SELECTOR", default="", help="label selector, e.g. name=redis,env!=prod")
@click.option("--fields", metavar="SELECTOR", default="", help="field selector, e.g. DesiredState.Host= (also -fields)")
@server_option
@output_options
def list_(resource, labels, fields, server, as_json, as_yaml):
    """List the objects of RESOURCE, optionally only those matching -l SELECTOR.

    \b
    Examples:
      kubecfg list /pods
      raftkube list pods -l name=redis
      raftkube list replicationControllers -json
    """
    fmt = output_format(as_json, as_yaml)
    res, name = parse_target(resource, None, need_name=False, command="list")
    client = make_client(server)
    if name:  # 2014 kubecfg GETs whatever path it is given: list pods/redis prints one pod
        emit(get_object(client, res, name), fmt)
        return
    params = {}
    if labels:
        params["labels"] = labels
    if fields:
        params["fields"] = fields
    emit(client.request("GET", api_path(res), params).json(), fmt)


@click.command()
@click.argument("resource", shell_complete=complete_resource)
@click.argument("name", required=False)
@server_option
@output_options
def get(resource, name, server, as_json, as_yaml):
    """Print one object: RESOURCE/ID (or RESOURCE ID).

    \b
    Examples:
      kubecfg get pods/redis
      raftkube get replicationControllers redisController -yaml
    """
    fmt = output_format(as_json, as_yaml)
    res, name = parse_target(resource, name, need_name=True, command="get")
    emit(get_object(make_client(server), res, name), fmt)


@click.command()
@click.argument("resource", shell_complete=complete_resource)
@click.argument("name", required=False)
@click.option("-c", "--file", "source", metavar="FILE|URL|-", help="the new object, as JSON or YAML")
@server_option
@output_options
def update(resource, name, source, server, as_json, as_yaml):
    """Replace RESOURCE/ID with the object in -c FILE.

    The current resourceVersion is read first and put into the object, so the update applies
    unless someone else changes the object in between (then: 409 Conflict, try again).

    \b
    Example:
      kubecfg -c redisController.json update replicationControllers/redisController
    """
    fmt = output_format(as_json, as_yaml)
    res, name = parse_target(resource, name, need_name=True, command="update")
    if not source:
        raise click.UsageError("Need config file (-c)")
    body = read_object_file(source)
    if body.get("id") not in (None, "", name):
        raise click.ClickException(f"the id in {source} ({body['id']!r}) is not {name!r}")
    body["id"] = name
    check_object(res, body)
    client = make_client(server)
    current = get_object(client, res, name)
    body["resourceVersion"] = current.get("resourceVersion") or 0
    emit(put_object(client, res, name, body), fmt)


@click.command()
@click.argument("resource", shell_complete=complete_resource)
@click.argument("name", required=False)
@click.option("--uid", default="", metavar="UID", help="delete only if the object has this uid (else 409)")
@click.option("--resource-version", "resource_version", type=click.IntRange(min=1), default=None, metavar="N",
              help="delete only if the object is at this resourceVersion (else 409)")
@server_option
@output_options
def delete(resource, name, uid, resource_version, server, as_json, as_yaml):
    """Delete RESOURCE/ID and print the resulting Status.

    Deleting a replication controller does not delete its pods: use stop, then rm. With --uid or
    --resource-version (DeleteOptions preconditions) the delete is refused (409) if the object of that
    name is another one or has changed since.

    \b
    Example:
      kubecfg delete pods/redis
      kubecfg delete pods/redis --uid 5c0e1b9e-...
    """
    fmt = output_format(as_json, as_yaml)
    res, name = parse_target(resource, name, need_name=True, command="delete")
    body = delete_options(uid, resource_version or 0) if uid or resource_version else None
    emit(make_client(server).request("DELETE", api_path(res, name), body=body).json(), fmt)


# ---- replication controllers: resize, stop, rm, run, rollingupdate ------------------------------------

def _resize(controller: str, replicas: int, server, as_json, wait, timeout_s) -> None:
    if replicas < 0:
        raise click.UsageError(f"replicas must be >= 0, got {replicas}")
    fmt = output_format(as_json, False, default="yaml")
    client = make_client(server)
    name = rc_name(controller)
    emit(rollout.set_replicas(client, name, replicas), fmt)
    if wait:
        rollout.wait_replicas(client, name, replicas, timeout_s, _progress)


@click.command()
@click.argument("controller")
@click.argument("replicas", type=int)
@wait_options
@server_option
@click.option("--json", "as_json", is_flag=True, help="print the controller as JSON instead of YAML")
def resize(controller, replicas, wait, timeout_s, server, as_json):
    """Set the desired replica count of replication controller CONTROLLER to REPLICAS.

    Prints the updated controller as YAML (as kubecfg did). With --wait, waits until the
    controller's current replica count (the pods matching its selector) converges.

    \b
    Example:
      kubecfg resize redisController 3
      raftkube resize redisController 3 --wait --timeout 2m
    """
    _resize(controller, replicas, server, as_json, wait, timeout_s)


@click.command()
@click.argument("controller")
@wait_options
@server_option
@click.option("--json", "as_json", is_flag=True, help="print the controller as JSON instead of YAML")
def stop(controller, wait, timeout_s, server, as_json):
    """Resize replication controller CONTROLLER to 0 replicas (its pods are then deleted).

    \b
    Example:
      kubecfg stop redisController && kubecfg rm redisController
    """
    _resize(controller, 0, server, as_json, wait, timeout_s)


@click.command()
@click.argument("controller")
@server_option
@output_options
def rm(controller, server, as_json, as_yaml):
    """Delete replication controller CONTROLLER; refused while it wants replicas (stop it first).

    \b
    Example:
      kubecfg stop redisController
      kubecfg rm redisController
    """
    fmt = output_format(as_json, as_yaml)
    name = rc_name(controller)
    client = make_client(server)
    emit(rollout.remove_controller(client, name), fmt)


@click.command()
@click.argument("image")
@click.argument("replicas", type=int)
@click.argument("name")
@click.option("-p", "ports", metavar="PORTS", default="",
              help="container ports: comma-separated hostPort:containerPort or containerPort")
@click.option("-s", "service_port", type=int, default=0, metavar="PORT",
              help="also create a service NAME on this port, selecting the controller's pods")
@server_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of YAML")
def run(image, replicas, name, ports, service_port, server, as_json):
    """Run REPLICAS copies of IMAGE as replication controller NAME (and optionally a service).

    The controller's selector and pod labels are name=NAME; the container is named NAME in
    lowercase. Prints the created objects as YAML.

    \b
    Example:
      kubecfg -p 8080:80 -s 8000 run dockerfile/nginx 2 web
    """
    if replicas < 0:
        raise click.UsageError(f"replicas must be >= 0, got {replicas}")
    objects = run_objects(image, replicas, name, parse_port_spec(ports), service_port)
    for res, body in objects:  # all checked before anything is created
        check_object(res, body)
    client = make_client(server)
    fmt = output_format(as_json, False, default="yaml")
    for i, (res, body) in enumerate(objects):
        if i and fmt == "yaml":
            click.echo("---")
        emit(client.request("POST", api_path(res), body=body).json(), fmt)


@click.command()
@click.argument("controller")
@click.option("--image", default=None, help="the new image of the template's first container (also -image)")
@click.option("-u", "period_s", type=DURATION, default="60s", show_default=True,
              help="pause after each replaced pod")
@click.option("--timeout", "timeout_s", type=DURATION, default="300s", show_default=True,
              help="give up (exit 1) if a deleted pod is not replaced within this long")
@server_option
def rollingupdate(controller, image, period_s, timeout_s, server):
    """Replace the pods of replication controller CONTROLLER one by one.

    With -image, first sets the image of the template's first container. Then each pod matching
    the controller's selector is deleted; the controller creates a replacement from the (new)
    template; once the pod count is back, wait -u before the next pod. Progress goes to stderr.

    \b
    Example:
      kubecfg -image dockerfile/redis:2.8 -u 10s rollingupdate redisController
    """
    name = rc_name(controller)
    client = make_client(server)
    rollout.rolling_update(client, name, image=image, period_s=period_s, timeout_s=timeout_s, progress=_progress)


# ---- the cluster: events, status, logs ------------------------------------------------------------

@click.command()
@click.option("-l", "labels", metavar="SELECTOR", default="", help="label selector on the events")
@click.option("--fields", metavar="SELECTOR", default="",
              help="field selector, e.g. involvedObject.name=redis,reason=scheduled (also -fields)")
@server_option
@output_options
def events(labels, fields, server, as_json, as_yaml):
    """List events: which object, its kind, status, reason and message.

    \b
    Examples:
      kubecfg events
      raftkube events --fields involvedObject.name=redis
    """
    fmt = output_format(as_json, as_yaml)
    params = {}
    if labels:
        params["labels"] = labels
    if fields:
        params["fields"] = fields
    emit(make_client(server).request("GET", api_path(RESOURCES["events"]), params).json(), fmt)


def _probe_master(url: str, name: str, timeout_s: float, creds: Credentials) -> dict:
    row = {"url": url, "name": name}
    try:
        with requests.Session() as session:
            creds.apply(session)
            resp = session.get(url + "/raft", timeout=timeout_s, **creds.verify)
        resp.raise_for_status()
        row.update(reachable=True, raft=resp.json())
    except requests.exceptions.SSLError:
        row.update(reachable=False, error="TLS verification failed")
    except requests.ConnectionError:
        row.update(reachable=False, error="connection refused")
    except requests.Timeout:
        row.update(reachable=False, error="timeout")
    except (requests.RequestException, ValueError) as exc:
        row.update(reachable=False, error=exc.__class__.__name__)
    return row


@click.command()
@click.option("--timeout", "timeout_s", type=DURATION, default="2s", show_default=True,
              help="how long to wait for each master")
@server_option
@click.option("--json", "as_json", is_flag=True, help="print the masters' /raft answers as JSON")
def status(timeout_s, server, as_json):
    """Show every master: name, role, leader, term, commit and applied index, store used/quota, reachable or not.

    Exits 1 if no master answers.

    \b
    Example:
      raftkube status
      raftkube status -h http://10.0.0.1:8080,http://10.0.0.2:8080
    """
    urls, names = server_urls(server)
    creds = credentials(urls)
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        rows = list(pool.map(lambda u: _probe_master(u, names.get(u, ""), timeout_s, creds), urls))
    if as_json:
        click.echo(printers.to_json(rows), nl=False)
    else:
        click.echo(printers.masters_table(rows), nl=False)
    if not any(r["reachable"] for r in rows):
        raise click.ClickException(f"no master reachable ({', '.join(urls)})")


def _url_host(addr: str) -> str:
    return f"[{addr}]" if ":" in addr else addr


@click.command()
@click.argument("pod")
@click.argument("container", required=False)
@click.option("--follow", is_flag=True, help="keep streaming new output (also -follow)")
@click.option("--tail", type=int, default=None, help="only the last N lines")
@server_option
def logs(pod, container, follow, tail, server):
    """Print the output of CONTAINER in POD, from the kubelet of the pod's minion (port 10250).

    CONTAINER may be left out when the pod has a single container.

    \b
    Example:
      raftkube logs redis
      raftkube logs redis redis --tail 20
    """
    pod_name = pod.strip("/")
    if pod_name.startswith("pods/"):
        pod_name = pod_name[len("pods/"):]
    client = make_client(server)
    wire = get_object(client, PODS, pod_name)
    names = [c.get("name") or "" for c in
             ((wire.get("desiredState") or {}).get("manifest") or {}).get("containers") or ()]
    if container is None:
        if len(names) != 1:
            raise click.ClickException(f'pod "{pod_name}" has {len(names)} containers ({", ".join(names)}): '
                                       "name one")
        container = names[0]
    elif container not in names:
        raise click.ClickException(f'pod "{pod_name}" has no container "{container}" '
                                   f'(containers: {", ".join(names)})')
    host = (wire.get("currentState") or {}).get("host") or (wire.get("desiredState") or {}).get("host") or ""
    if not host:
        raise click.ClickException(f'pod "{pod_name}" is not assigned to a minion yet: no logs')
    address, port, scheme = host, KUBELET_PORT, "http"
    try:
        minion = get_object(client, RESOURCES["minions"], host)
        address = minion.get("hostIP") or host
        port = ((minion.get("status") or {}).get("kubeletPort")) or KUBELET_PORT
        scheme = "https" if (minion.get("status") or {}).get("kubeletTLS") else "http"
    except NotFound:
        pass
    namespace = wire.get("namespace") or DEFAULT_NAMESPACE
    quote = lambda s: requests.utils.quote(s, safe="")  # noqa: E731
    url = (f"{scheme}://{_url_host(address)}:{port}/containerLogs/{quote(namespace)}/{quote(pod_name)}/"
           f"{quote(container)}")
    params = {}
    if follow:
        params["follow"] = "true"
    if tail is not None:
        params["tail"] = str(tail)
    tls = {}
    if scheme == "https":  # the kubelet takes a client certificate of the cluster CA (a master's or the admin's)
        creds = kubelet_credentials()
        tls = {**creds.verify, **({"cert": (creds.cert_file, creds.key_file)} if creds.cert_file else {})}
    try:
        resp = requests.get(url, params=params, stream=True, timeout=(5, None if follow else 30), **tls)
    except requests.exceptions.SSLError as exc:
        raise click.ClickException(f'TLS with the kubelet of minion "{host}" at {url.split("/containerLogs")[0]} '
                                   f"failed (is --certificate-authority the cluster CA?): {exc}") from None
    except requests.ConnectionError:
        raise click.ClickException(f'cannot reach the kubelet of minion "{host}" at {url.split("/containerLogs")[0]} '
                                   "(is the minion running?)") from None
    except requests.Timeout:
        raise click.ClickException(f'the kubelet of minion "{host}" did not answer') from None
    with resp:
        if resp.status_code != 200:
            text = resp.text.strip().splitlines()
            raise click.ClickException(f'the kubelet of minion "{host}" answered {resp.status_code}'
                                       + (f": {text[0][:200]}" if text else ""))
        out = click.get_binary_stream("stdout")
        try:
            for chunk in resp.iter_content(chunk_size=None):
                out.write(chunk)
                out.flush()
        except requests.RequestException as exc:
            raise click.ClickException(f'log stream from minion "{host}" broke: {exc.__class__.__name__}') from None


#: the commands this module adds to the ``raftkube`` group (argv.CLIENT_COMMANDS names the same ones)
COMMANDS = (create, list_, get, update, delete, resize, stop, rm, run, rollingupdate, events, status, logs)
