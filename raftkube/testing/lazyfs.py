"""A power-loss file system for tests: writes not yet fsync'd live in a daemon's memory and die with it.

Like LazyFS (the FUSE file system Jepsen puts under etcd), but small: a passthrough FUSE file system
(mfusepy over libfuse3) over a backing directory, which plays the disk.

What is durable when:
- Metadata goes to the backing directory at once and is durable: create, mkdir, unlink, rmdir,
  rename, link, symlink, mknod, chmod, chown, utimens. A file created and never synced is there
  after a power cut, empty. (So a missing fsync of file data is caught, a missing fsync of the
  directory after a create or rename is not.)
- File data is not: every write, truncate (also ``O_TRUNC`` at open) and size-changing fallocate is
  held in the daemon's memory per inode (the dirty byte ranges and a pending size) and reaches the
  backing file only on fsync or fdatasync of that file, through any descriptor of it. Only that
  file's data is persisted; close and flush persist nothing; fsync of a directory is accepted (its
  entries were durable already) and counted. msync(MS_SYNC) and writes through an ``O_SYNC`` or
  ``O_DSYNC`` descriptor reach the daemon as fsyncs (the kernel sends them); sync(2) and syncfs(2)
  do not (libfuse 3.14's high-level API has no syncfs), so they persist nothing here.
- Reads merge the dirty ranges over the backing file and stat reports the pending size, so live
  processes see their own writes. mtime and ctime are the backing file's (an unsynced write does
  not change them). Dirty data follows its inode through rename and hard links; unlinking the last
  name drops it (libfuse first renames a file still open to ``.fuse_hidden*``; such orphans are
  removed when a daemon starts, as a journaling file system's recovery does).
- The backing files are written with plain pwrite at fsync and not fsync'd themselves: the backing
  directory models the disk, the host does not lose power.

The kernel's page cache stays on, because shared writable mmap needs it (pysyncobj's journal is an
mmap; with ``direct_io`` a shared mapping fails with ENODEV on this libfuse, 3.14, which cannot ask
for FUSE_DIRECT_IO_ALLOW_MMAP). It cannot leak across a power cut: writes are write-through
(writeback caching is switched off at init), so the daemon has every byte a ``write()`` returned
for, and dirty mmap pages reach it at msync (MS_SYNC ends in fsync) or when the last descriptor
closes; the page cache belongs to the mount, and the cut lazily unmounts it, so the next daemon's
mount starts cold (a test reads a cached unsynced write, cuts, and reads the old bytes).

Fast enough for database-like loads (2 shared cores, the daemon in Python; figures from one run next
to the same load on the backing ext4 directly, which really syncs): sqlite one row per transaction
with the default ``synchronous=FULL`` ~370-470 commits/s (rollback journal; direct 830-950) and
~2 800/s in WAL mode (direct 2 100-2 650); 4 KiB append + fdatasync ~7 300/s (direct 3 200-3 600:
the daemon never syncs the backing disk); a 256 B mmap store + msync ~6 900/s; 1 MiB writes
230-300 MiB/s; reads 650-900 MiB/s.

The power cut: the daemon is a child process (``python -m raftkube.testing.lazyfs BACKING
MOUNTPOINT``) driven by :class:`LazyMount`. ``cut()`` SIGKILLs it (the unsynced data lived only in
its memory: that is the loss) and lazily unmounts (``fusermount3 -u -z``), leaving the backing
directory as a disk after power loss; ``remount()`` starts a new daemon over it. Kill the
processes that use the mount first (``users()`` lists them; ``cut()`` warns about any left).

Counters: reading ``MOUNTPOINT/.lazyfs-stats`` (not listed in directories) gives the daemon's
counters as JSON (fsyncs, bytes persisted, dirty bytes held now...); ``cut()`` returns them as they
were at the cut, so ``dirty_bytes`` there is what the cut dropped.

One module of ~700 lines (above the house limit) because issue 15 asks for this harness in one file
that issue 20 reuses; its parts (dirty ranges, the FUSE operations, the daemon's main, the
controller) are only used together.

Longer than the house's ~500 lines on purpose: the daemon (``LazyOperations``: the FUSE operations over
shared inodes and their unsynced ``DirtyRanges``) and the test side that mounts it and cuts its power
(``LazyMount``) speak one private protocol and are kept together so they cannot drift apart.
"""

from __future__ import annotations

import argparse
import bisect
import errno
import json
import logging
import os
import re
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

CONTROL_NAME = ".lazyfs-stats"
HIDDEN_PREFIX = ".fuse_hidden"  # libfuse's name for a file unlinked while open
FUSE_CAP_WRITEBACK_CACHE = 1 << 16  # fuse_common.h (libfuse 3)
_UTIME_NOW, _UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")  # mountinfo writes " " as \040
# open flags kept from the backing descriptor: it is opened read-write, truncates are held, writes
# come with their offset (O_APPEND is resolved by the kernel) and reach it only at fsync
_BACKING_FLAGS_DROPPED = (os.O_ACCMODE | os.O_TRUNC | os.O_APPEND | os.O_SYNC | os.O_DSYNC
                          | getattr(os, "O_DIRECT", 0))


class DirtyRanges:
    """The bytes written to one file since its last sync: sorted, non-overlapping, non-touching ranges."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._bufs: list[bytearray] = []

    def write(self, offset: int, data: bytes) -> None:
        if not data:
            return
        end = offset + len(data)
        starts, bufs = self._starts, self._bufs
        i = bisect.bisect_right(starts, offset) - 1
        first = i if i >= 0 and starts[i] + len(bufs[i]) >= offset else i + 1
        last = bisect.bisect_right(starts, end) - 1  # the last range starting at or before `end`
        if last < first:
            starts.insert(first, offset)
            bufs.insert(first, bytearray(data))
            return
        if starts[first] <= offset:  # extend the range in place: the common append case
            start, buf = starts[first], bufs[first]
            buf[offset - start:offset - start + len(data)] = data
            absorb = range(first + 1, last + 1)
        else:
            start, buf = offset, bytearray(data)
            absorb = range(first, last + 1)
        for k in absorb:  # ranges the write now overlaps or touches: keep their tails past it
            cur_end, k_end = start + len(buf), starts[k] + len(bufs[k])
            if k_end > cur_end:
                buf += bufs[k][cur_end - starts[k]:]
        starts[first:last + 1] = [start]
        bufs[first:last + 1] = [buf]

    def truncate(self, size: int) -> None:
        i = bisect.bisect_left(self._starts, size)
        del self._starts[i:], self._bufs[i:]
        if i and self._starts[i - 1] + len(self._bufs[i - 1]) > size:
            del self._bufs[i - 1][size - self._starts[i - 1]:]

    def overlay(self, buf: bytearray, offset: int) -> None:
        """Copy the dirty bytes that fall in ``[offset, offset + len(buf))`` over ``buf``."""
        end = offset + len(buf)
        for k in range(max(bisect.bisect_right(self._starts, offset) - 1, 0), len(self._starts)):
            start, data = self._starts[k], self._bufs[k]
            if start >= end:
                break
            lo, hi = max(start, offset), min(start + len(data), end)
            if lo < hi:
                buf[lo - offset:hi - offset] = data[lo - start:hi - start]

    def items(self):
        return zip(self._starts, self._bufs)

    @property
    def nbytes(self) -> int:
        return sum(len(b) for b in self._bufs)


@dataclass
class _Inode:
    """What the daemon holds for one backing inode: open handles and, while dirty, the unsynced data."""

    key: tuple[int, int]
    handles: int = 0
    size: int | None = None  # the size the file has now; None while clean (the backing file's)
    base_len: int = 0  # bytes of the backing file still visible (the smallest size since the last sync)
    ranges: DirtyRanges = field(default_factory=DirtyRanges)

    @property
    def dirty(self) -> bool:
        return self.size is not None

    def make_dirty(self, backing_size: int) -> None:
        if self.size is None:
            self.size = self.base_len = backing_size

    def clean(self) -> None:
        self.size, self.base_len, self.ranges = None, 0, DirtyRanges()


@dataclass
class _Handle:
    fd: int
    inode: _Inode | None  # None for the control file
    snapshot: bytes = b""  # the control file's content, taken at open


def _attrs(st: os.stat_result) -> dict:
    return {"st_mode": st.st_mode, "st_nlink": st.st_nlink, "st_size": st.st_size, "st_uid": st.st_uid,
            "st_gid": st.st_gid, "st_rdev": st.st_rdev, "st_blocks": st.st_blocks,
            "st_blksize": st.st_blksize, "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns,
            "st_ctime": st.st_ctime_ns}


def _fuse_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class LazyOperations:
    """The FUSE operations (mfusepy's high-level API, ``raw_fi=True``), over the backing directory ``root``.

    One lock guards the handle and inode tables; every operation holds it (the GIL serializes the
    Python part anyway, and it keeps a read from interleaving with the fsync of the same file).
    """

    use_ns = True  # times in integer nanoseconds

    def __init__(self, root: str, ready_fd: int | None = None) -> None:
        self._root = os.path.realpath(root)
        self._ready_fd = ready_fd
        self._lock = threading.RLock()
        self._handles: dict[int, _Handle] = {}
        self._inodes: dict[tuple[int, int], _Inode] = {}
        self._next_fh = 1
        self.destroyed = False  # set by a clean unmount
        self.counters = {"fsyncs": 0, "fsyncdirs": 0, "bytes_written": 0, "bytes_persisted": 0,
                         "bytes_discarded_by_unlink": 0}

    # -- helpers ------------------------------------------------------------------------------------
    def _full(self, path: str) -> str:
        return self._root + path if path != "/" else self._root

    @staticmethod
    def _refuse_control(path: str) -> None:
        if path == "/" + CONTROL_NAME:
            raise _fuse_error(errno.EPERM)

    def _inode_for(self, st: os.stat_result) -> _Inode:
        key = (st.st_dev, st.st_ino)
        inode = self._inodes.get(key)
        if inode is None:
            inode = self._inodes[key] = _Inode(key)
        return inode

    def _forget_if_idle(self, inode: _Inode) -> None:
        if inode.handles == 0 and not inode.dirty:
            self._inodes.pop(inode.key, None)

    def _discard(self, st: os.stat_result | None) -> None:
        """The last name of ``st``'s inode is gone: its unsynced data goes with it."""
        if st is None or st.st_nlink > 1 or not stat.S_ISREG(st.st_mode):
            return
        inode = self._inodes.get((st.st_dev, st.st_ino))
        if inode is not None and inode.handles == 0:
            self.counters["bytes_discarded_by_unlink"] += inode.ranges.nbytes
            del self._inodes[inode.key]

    def _new_handle(self, handle: _Handle) -> int:
        fh, self._next_fh = self._next_fh, self._next_fh + 1
        self._handles[fh] = handle
        return fh

    def _open_backing(self, path: str, flags: int, fi, mode: int = 0o644) -> int:
        base = flags & ~_BACKING_FLAGS_DROPPED
        try:  # read-write even for a read-only open: a later fsync through it must be able to persist
            fd = os.open(self._full(path), base | os.O_RDWR, mode)
        except PermissionError:
            fd = os.open(self._full(path), base | (flags & os.O_ACCMODE), mode)
        inode = self._inode_for(os.fstat(fd))
        inode.handles += 1
        if flags & os.O_TRUNC:
            self._truncate(inode, os.fstat(fd).st_size, 0)
        fi.fh = self._new_handle(_Handle(fd, inode))
        return 0

    @staticmethod
    def _truncate(inode: _Inode, backing_size: int, length: int) -> None:
        inode.make_dirty(backing_size)
        inode.size = length
        inode.base_len = min(inode.base_len, length)
        inode.ranges.truncate(length)

    def _persist(self, inode: _Inode, fd: int) -> None:
        if not inode.dirty:
            return
        if inode.base_len < os.fstat(fd).st_size:
            os.ftruncate(fd, inode.base_len)
        written = 0
        for start, buf in inode.ranges.items():
            view = memoryview(buf)
            while view:
                n = os.pwrite(fd, view, start)
                view, start, written = view[n:], start + n, written + n
        if os.fstat(fd).st_size != inode.size:
            os.ftruncate(fd, inode.size)
        self.counters["bytes_persisted"] += written
        inode.clean()

    def stats(self) -> dict:
        with self._lock:
            dirty = [i for i in self._inodes.values() if i.dirty]
            return {**self.counters, "dirty_bytes": sum(i.ranges.nbytes for i in dirty),
                    "dirty_files": len(dirty), "pid": os.getpid(),
                    "open_handles": sum(1 for h in self._handles.values() if h.inode is not None)}

    # -- lifecycle ----------------------------------------------------------------------------------
    def init_with_config(self, conn, config) -> None:
        if conn is not None:
            conn.want &= ~FUSE_CAP_WRITEBACK_CACHE  # write-through: every write() reaches the daemon
            log.debug("FUSE capable=%#x want=%#x", conn.capable, conn.want)
        log.info("lazyfs serving %s (pid %d)", self._root, os.getpid())
        if self._ready_fd is not None:
            os.write(self._ready_fd, b"ready\n")
            os.close(self._ready_fd)
            self._ready_fd = None

    def destroy(self, path: str) -> None:
        self.destroyed = True
        st = self.stats()
        log.info("lazyfs stopping: %d unsynced bytes in %d files dropped; counters %s",
                 st["dirty_bytes"], st["dirty_files"], st)

    # -- attributes and names (durable at once) -----------------------------------------------------
    def getattr(self, path: str, fi=None) -> dict:
        if path == "/" + CONTROL_NAME:
            return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": 0}
        with self._lock:
            handle = self._handles.get(fi.fh) if fi is not None else None
            st = (os.fstat(handle.fd) if handle is not None and handle.inode is not None
                  else os.lstat(self._full(path)))
            attrs = _attrs(st)
            inode = self._inodes.get((st.st_dev, st.st_ino))
            if inode is not None and inode.dirty:
                attrs["st_size"] = inode.size
                attrs["st_blocks"] = (inode.size + 511) // 512
            return attrs

    def readdir(self, path: str, fh) -> list[str]:
        return [".", "..", *os.listdir(self._full(path))]

    def readlink(self, path: str) -> str:
        return os.readlink(self._full(path))

    def statfs(self, path: str) -> dict:
        sv = os.statvfs(self._full(path))
        return {k: getattr(sv, k) for k in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                                            "f_files", "f_ffree", "f_favail", "f_flag", "f_namemax")}

    def mknod(self, path: str, mode: int, dev: int) -> int:
        self._refuse_control(path)
        os.mknod(self._full(path), mode, dev)
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        self._refuse_control(path)
        os.mkdir(self._full(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._full(path))
        return 0

    def symlink(self, target: str, source: str) -> int:
        self._refuse_control(target)
        os.symlink(source, self._full(target))
        return 0

    def link(self, target: str, source: str) -> int:
        self._refuse_control(target)
        os.link(self._full(source), self._full(target))
        return 0

    def unlink(self, path: str) -> int:
        self._refuse_control(path)
        with self._lock:
            st = os.lstat(self._full(path))
            os.unlink(self._full(path))
            self._discard(st)
        return 0

    def rename(self, old: str, new: str, flags: int = 0) -> int:
        self._refuse_control(old)
        self._refuse_control(new)
        if flags:  # RENAME_NOREPLACE / RENAME_EXCHANGE: os.rename cannot honour them
            raise _fuse_error(errno.EINVAL)
        with self._lock:
            src = os.lstat(self._full(old))
            try:
                dst = os.lstat(self._full(new))
            except FileNotFoundError:
                dst = None
            os.rename(self._full(old), self._full(new))
            if dst is not None and (dst.st_dev, dst.st_ino) != (src.st_dev, src.st_ino):
                self._discard(dst)
        return 0

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._full(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.lchown(self._full(path), uid, gid)
        return 0

    def utimens(self, path: str, times=None) -> int:
        full = self._full(path)
        if times is None:
            os.utime(full, follow_symlinks=False)
            return 0
        st, now = os.lstat(full), time.time_ns()
        current = (st.st_atime_ns, st.st_mtime_ns)
        ns = tuple(now if t == _UTIME_NOW else current[i] if t == _UTIME_OMIT else t  # libfuse: tv_sec 0
                   for i, t in enumerate(times))
        os.utime(full, ns=ns, follow_symlinks=False)
        return 0

    # -- data (held until fsync) --------------------------------------------------------------------
    def open(self, path: str, fi) -> int:
        with self._lock:
            if path == "/" + CONTROL_NAME:
                if fi.flags & os.O_ACCMODE != os.O_RDONLY:
                    raise _fuse_error(errno.EACCES)
                fi.direct_io = 1  # read the daemon every time, whatever the size says
                fi.fh = self._new_handle(_Handle(-1, None, json.dumps(self.stats()).encode() + b"\n"))
                return 0
            return self._open_backing(path, fi.flags, fi)

    def create(self, path: str, mode: int, fi) -> int:
        self._refuse_control(path)
        with self._lock:
            return self._open_backing(path, fi.flags | os.O_CREAT, fi, mode)

    def read(self, path: str, size: int, offset: int, fi) -> bytes:
        with self._lock:
            handle = self._handles[fi.fh]
            inode = handle.inode
            if inode is None:
                return handle.snapshot[offset:offset + size]
            if not inode.dirty:
                return os.pread(handle.fd, size, offset)
            if offset >= inode.size:
                return b""
            buf = bytearray(min(size, inode.size - offset))
            if offset < inode.base_len:
                data = os.pread(handle.fd, min(len(buf), inode.base_len - offset), offset)
                buf[:len(data)] = data
            inode.ranges.overlay(buf, offset)
            return bytes(buf)

    def write(self, path: str, data: bytes, offset: int, fi) -> int:
        with self._lock:
            handle = self._handles[fi.fh]
            inode = handle.inode
            if inode is None:
                raise _fuse_error(errno.EBADF)
            if not inode.dirty:
                inode.make_dirty(os.fstat(handle.fd).st_size)
            inode.ranges.write(offset, data)
            inode.size = max(inode.size, offset + len(data))
            self.counters["bytes_written"] += len(data)
            return len(data)

    def truncate(self, path: str, length: int, fi=None) -> int:
        self._refuse_control(path)
        with self._lock:
            st = os.lstat(self._full(path))
            if not stat.S_ISREG(st.st_mode):
                raise _fuse_error(errno.EINVAL)
            self._truncate(self._inode_for(st), st.st_size, length)
        return 0

    def fallocate(self, path: str, mode: int, offset: int, length: int, fi) -> int:
        if mode & ~1:  # only plain allocation (0) and FALLOC_FL_KEEP_SIZE (1)
            raise _fuse_error(errno.EOPNOTSUPP)
        with self._lock:
            handle = self._handles[fi.fh]
            if handle.inode is None:
                raise _fuse_error(errno.EBADF)
            inode = handle.inode
            size = inode.size if inode.dirty else os.fstat(handle.fd).st_size
            if mode == 0 and offset + length > size:
                inode.make_dirty(size)
                inode.size = offset + length
        return 0

    def fsync(self, path: str, datasync: int, fi) -> int:
        with self._lock:
            handle = self._handles[fi.fh]
            if handle.inode is not None:
                self._persist(handle.inode, handle.fd)
                self.counters["fsyncs"] += 1
        return 0

    def fsyncdir(self, path: str, datasync: int, fh) -> int:
        with self._lock:
            self.counters["fsyncdirs"] += 1
        return 0

    def flush(self, path: str, fi) -> int:
        return 0  # close persists nothing

    def release(self, path: str, fi) -> int:
        with self._lock:
            handle = self._handles.pop(fi.fh)
            inode = handle.inode
            if inode is None:
                return 0
            orphan = os.fstat(handle.fd).st_nlink == 0
            os.close(handle.fd)
            inode.handles -= 1
            if orphan and inode.handles == 0:
                self.counters["bytes_discarded_by_unlink"] += inode.ranges.nbytes
                inode.clean()
            self._forget_if_idle(inode)
        return 0


# -- the daemon -------------------------------------------------------------------------------------
def _remove_orphans(root: str) -> None:
    """Files unlinked while open had been renamed by libfuse; after a cut they are gone, as on a real disk."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(HIDDEN_PREFIX):
                os.unlink(os.path.join(dirpath, name))
                log.info("removed orphan %s", os.path.join(dirpath, name))


def _watch_parent(stop: threading.Event) -> None:
    """Unmount cleanly (SIGTERM to ourselves: libfuse's handler) if the process that started us dies."""
    parent = os.getppid()
    while not stop.wait(0.5):
        if os.getppid() != parent:
            log.warning("parent %d is gone: unmounting", parent)
            os.kill(os.getpid(), signal.SIGTERM)
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raftkube.testing.lazyfs",
                                     description="Mount BACKING at MOUNTPOINT; data not fsync'd lives in "
                                                 "this process only (see the module docstring).")
    parser.add_argument("backing")
    parser.add_argument("mountpoint")
    parser.add_argument("--ready-fd", type=int, help="write 'ready' to this descriptor once serving")
    parser.add_argument("--debug", action="store_true", help="log every FUSE operation")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s lazyfs[%(process)d] %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")  # mfusepy would prefer a libfuse 2 if one is installed
    import mfusepy  # imported here: the module is importable (LazyMount, DirtyRanges) without it

    class _FUSE(mfusepy.FUSE):
        def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:  # mfusepy drops the flags
            return self.operations.rename(old.decode(self.encoding, self.errors),
                                          new.decode(self.encoding, self.errors), flags)

    _remove_orphans(args.backing)
    stop = threading.Event()
    threading.Thread(target=_watch_parent, args=(stop,), name="lazyfs-parent", daemon=True).start()
    ops = LazyOperations(args.backing, ready_fd=args.ready_fd)
    try:
        _FUSE(ops, args.mountpoint, raw_fi=True, foreground=True, fsname="lazyfs", debug=args.debug)
    except RuntimeError as exc:  # libfuse's fuse_main returns 8 after a SIGTERM too
        if not ops.destroyed:
            log.error("lazyfs failed on %s: fuse_main returned %s", args.mountpoint, exc)
            return 1
    finally:
        stop.set()
    return 0


# -- the controller ---------------------------------------------------------------------------------
def mounted(mountpoint: str | os.PathLike) -> bool:
    """Whether a file system is mounted at ``mountpoint`` (per /proc/self/mountinfo)."""
    target = os.path.realpath(mountpoint)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        points = [_OCTAL_ESCAPE.sub(lambda m: chr(int(m[1], 8)), line.split(" ", 5)[4]) for line in f]
    return target in points


def _paths_of(pid: int):
    """The cwd, open files and mapped files of a process (what it can still see of a mount)."""
    def readlink(link: str) -> str:
        try:
            return os.readlink(link)
        except OSError:  # the process or the descriptor went away while we looked
            return ""
    yield readlink(f"/proc/{pid}/cwd")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
            maps = f.readlines()
    except OSError:
        return
    yield from (readlink(f"/proc/{pid}/fd/{fd}") for fd in fds)
    yield from (parts[5].strip() for parts in (line.split(None, 5) for line in maps) if len(parts) == 6)


def _wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.02)


class LazyMount:
    """A lazyfs daemon over ``backing``, mounted at ``mountpoint``, with a power switch.

    ``start()`` mounts; ``cut()`` is the power cut (SIGKILL, lazy unmount: unsynced data is lost);
    ``remount()`` boots again over the same backing directory; ``close()`` unmounts and stops the
    daemon (unsynced data is dropped there too), also after a failure. A context manager::

        with LazyMount(tmp_path / "disk", tmp_path / "mnt") as disk:
            ...                 # run the processes with their data under disk.mountpoint
            ...                 # kill them (kill -9 is fine), then:
            lost = disk.cut()["dirty_bytes"]
            disk.remount()      # restart them over what a disk would have kept
    """

    def __init__(self, backing: str | os.PathLike, mountpoint: str | os.PathLike, *,
                 log_path: str | os.PathLike | None = None, timeout_s: float = 15.0) -> None:
        self.backing = Path(backing)
        self.mountpoint = Path(mountpoint)
        self.log_path = Path(log_path) if log_path else self.mountpoint.with_name(
            self.mountpoint.name + ".lazyfs.log")
        self.timeout_s = timeout_s
        self.cuts: list[dict] = []  # the counters at each cut: dirty_bytes is what that cut dropped
        self.pids: list[int] = []  # every daemon started, so a test can check none is left
        self._proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def dropped_bytes(self) -> int:
        return sum(c["dirty_bytes"] for c in self.cuts)

    def __enter__(self) -> LazyMount:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> LazyMount:
        if self._proc is not None and self._proc.poll() is None:
            raise RuntimeError(f"lazyfs already running on {self.mountpoint}")
        if mounted(self.mountpoint):
            raise RuntimeError(f"something is already mounted on {self.mountpoint}")
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        # the daemon runs this very package, whatever the child's import path would pick
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
        read_end, write_end = os.pipe()
        try:
            with open(self.log_path, "ab") as log_file:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "raftkube.testing.lazyfs", str(self.backing),
                     str(self.mountpoint), "--ready-fd", str(write_end)],
                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                    pass_fds=(write_end,), env=env)
            self.pids.append(self._proc.pid)
            os.close(write_end)
            write_end = -1
            ready = select.select([read_end], [], [], self.timeout_s)[0] and os.read(read_end, 64)
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
        if not ready:
            exited = self._proc.poll()
            why = (f"exited with code {exited}" if exited is not None
                   else f"did not come up within {self.timeout_s:.0f} s")
            try:
                self.close()
            except RuntimeError as exc:
                log.warning("cleaning up after a failed start: %s", exc)
            raise RuntimeError(f"lazyfs on {self.mountpoint} {why}; log {self.log_path}:\n{self.log_tail()}")
        _wait_for(lambda: mounted(self.mountpoint), self.timeout_s, f"{self.mountpoint} in mountinfo")
        log.info("lazyfs pid %d: %s on %s", self._proc.pid, self.backing, self.mountpoint)
        return self

    remount = start  # after cut(): a new daemon over the same backing directory

    def stats(self) -> dict:
        """The daemon's counters now (it must be running)."""
        return json.loads((self.mountpoint / CONTROL_NAME).read_bytes())

    def cut(self) -> dict:
        """Power cut: drop everything not fsync'd. Returns the counters as they were at the cut."""
        if self.pid is None:
            raise RuntimeError(f"lazyfs is not running on {self.mountpoint}")
        users = self.users()
        if users:
            log.warning("power cut on %s while pids %s still use it", self.mountpoint, users)
        counters = self.stats()
        self._proc.kill()
        self._proc.wait(timeout=self.timeout_s)
        self._unmount()
        self.cuts.append(counters)
        log.info("power cut on %s: %d unsynced bytes in %d files dropped", self.mountpoint,
                 counters["dirty_bytes"], counters["dirty_files"])
        return counters

    def close(self, kill: bool = False) -> None:
        """Unmount and stop the daemon (``kill``: SIGKILL at once, as a cut without the counters); fail loudly if
        it had to be killed unasked or the mount stays."""
        problems = []
        if kill and self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)  # libfuse unmounts and exits
            try:
                self._proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                problems.append(f"lazyfs pid {self._proc.pid} ignored SIGTERM for {self.timeout_s:.0f} s; killed")
        try:
            self._unmount()
        except Exception as exc:
            problems.append(str(exc))
        if problems:
            raise RuntimeError("; ".join(problems))

    def _unmount(self) -> None:
        if not mounted(self.mountpoint):
            return
        done = subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], capture_output=True,
                              text=True, timeout=self.timeout_s)
        if done.returncode != 0 and mounted(self.mountpoint):
            raise RuntimeError(f"fusermount3 -u -z {self.mountpoint} failed: {done.stderr.strip()}")
        _wait_for(lambda: not mounted(self.mountpoint), self.timeout_s, f"{self.mountpoint} to unmount")

    def users(self) -> list[int]:
        """Pids (other than the daemon) with a cwd, open file or mapping under the mount point."""
        prefix = os.path.realpath(self.mountpoint)
        found = []
        for pid in sorted(map(int, filter(str.isdigit, os.listdir("/proc")))):
            if pid != self.pid and any(p == prefix or p.startswith(prefix + "/") for p in _paths_of(pid)):
                found.append(pid)
        return found

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


if __name__ == "__main__":
    sys.exit(main())
