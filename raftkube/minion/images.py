"""The two local images a minion needs when no registry is reachable, built with ``docker import``.

* ``raftkube/busybox:latest`` — an application image: ``/bin/busybox`` (Debian's ``busybox-static``,
  statically linked, so nothing else is needed) plus a symlink per applet (``sh``, ``httpd``, ``nc``,
  ``sleep``, ``cat``, ``echo``, ...), ``/etc/passwd``, ``/etc/group`` and an empty ``/tmp``. ~2 MB.
* ``raftkube/pause:latest`` — the infra ("pause", 2014: ``kubernetes/pause``) container of every pod: the
  same file system, whose command is a shell that sleeps until SIGTERM and then exits 0 at once. It only
  holds the pod's network namespace (pod IP, hostPort bindings).

Nothing is pulled: the root file system is written as a tar archive in memory and piped into the
engine's image import. ``ensure_images(docker_client)`` builds whichever is missing and is idempotent;
``raftkube minion`` calls it at start with the Docker runtime. By hand, the same thing is::

    mkdir -p root/bin root/etc root/tmp && cp /bin/busybox root/bin/ && \\
      for a in $(root/bin/busybox --list); do ln -s busybox root/bin/$a; done
    tar -C root -c . | docker import - raftkube/busybox:latest
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import tarfile

log = logging.getLogger(__name__)

BUSYBOX_IMAGE = "raftkube/busybox:latest"
PAUSE_IMAGE = "raftkube/pause:latest"
PAUSE_COMMAND = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
IMAGE_LABEL = "io.raftkube.image"

_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


class ImageBuildError(RuntimeError):
    """The local images cannot be built (no static busybox on this host)."""


def find_busybox() -> str:
    for path in BUSYBOX_PATHS:
        if os.path.exists(path):
            return path
    found = shutil.which("busybox")
    if found:
        return found
    raise ImageBuildError("busybox not found: install Debian's busybox-static (apt-get install busybox-static)")


def _applets(busybox: str) -> list[str]:
    out = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout
    return sorted({a.strip() for a in out.split() if a.strip() and a.strip() != "busybox"})


def rootfs_tar(busybox: str | None = None) -> bytes:
    """The busybox root file system as an uncompressed tar archive."""
    busybox = busybox or find_busybox()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("bin", "etc", "root", "usr", "usr/bin", "var"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        with open(busybox, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for applet in _applets(busybox):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
        add_file("etc/passwd", _PASSWD.encode())
        add_file("etc/group", _GROUP.encode())
    return buf.getvalue()


def _image_present(docker_client, ref: str) -> bool:
    import docker.errors
    try:
        docker_client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_images(docker_client, busybox: str | None = None) -> list[str]:
    """Build ``raftkube/busybox:latest`` and ``raftkube/pause:latest`` if missing; return those built."""
    wanted = {
        BUSYBOX_IMAGE: ['CMD ["/bin/sh"]', f'LABEL {IMAGE_LABEL}=busybox'],
        PAUSE_IMAGE: ["CMD " + _json_list(PAUSE_COMMAND), f'LABEL {IMAGE_LABEL}=pause'],
    }
    missing = [ref for ref in wanted if not _image_present(docker_client, ref)]
    if not missing:
        return []
    data = rootfs_tar(busybox)
    for ref in missing:
        repo, tag = ref.rsplit(":", 1)
        docker_client.api.import_image_from_data(data, repository=repo, tag=tag, changes=wanted[ref])
        if not _image_present(docker_client, ref):
            raise ImageBuildError(f"docker import did not produce {ref}")
        log.info("built local image %s from %s", ref, busybox or find_busybox())
    return missing


def _json_list(items: list[str]) -> str:
    import json
    return json.dumps(items)
