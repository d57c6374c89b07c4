"""arpo4j python tool worker: a fork server that runs model-written code in a confined child.

Started once by io.arpo4j.tools.python.PythonWorker (usually inside `unshare`), it pays the
interpreter start and the module imports once, then forks a zygote (a copy of itself) that forks
one child per call; the worker speaks the protocol and supervises, the zygote only forks, kills
and reaps (see Zygote for why).

Protocol (JSON lines; the worker's own stdin/stdout are used only for this):
  run as `python3 -c <this source> <configuration>` (no file on disk to leave behind)
  argv[1]        the configuration object (see PythonSandboxConfig on the Java side)
  worker -> Java {"ready": true, "protections": [...], "notes": [...]} once set up
  Java -> worker {"id": n, "code": "...", "timeout": seconds}
  worker -> Java {"id": n, "status": "ok|error|timeout|cpu_limit|output_limit|signal",
                  "output": "...", "exit_code": n, "signal": n, "cpu_s": x, "wall_s": x}

In namespaces the worker first replaces its root with a view of only what the interpreter reads
(read-only), a few devices, its own /proc and private tmpfs mounts. It joins a fresh session
keyring and installs the seccomp filter that refuses sockets (inherited by every call). Each
child: new session, stdout+stderr into one pipe read with a byte bound, a fresh working
directory, rlimits, every privilege dropped, a Landlock allow-list (read the interpreter's
files, write only the working directory). After every call everything the call started is
killed and the scratch area is emptied.

What does not depend on the call is prepared before the fork: a call's CPU is mostly
copy-on-write page faults (each page the child writes), so the child does as little Python as it
can (see bare_fork, warm_up, call_stdio, LandlockRules).
"""

import array
import ast
import builtins
import ctypes
import errno
import gc
import io
import json
import linecache
import os
import platform
import resource
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CODE_FILENAME = "<code>"


# libc's fork() called with the GIL held (PyDLL: ctypes does not release it)
LIBC_FORK = ctypes.PyDLL(None).fork
LIBC_FORK.restype, LIBC_FORK.argtypes = ctypes.c_int, []


def fail(call):
    err = ctypes.get_errno()
    raise OSError(err, "%s: %s" % (call, os.strerror(err)))


def prctl(option, arg):
    if LIBC.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                  ctypes.c_ulong(0)) != 0:
        fail("prctl(%d)" % option)


# ---------------------------------------------------------------- what a call may read

SYSTEM_LIBRARY_DIRS = ("/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64",
                       "/usr/lib32", "/usr/libx32")
# read, write: /dev/null; read: the others (os.urandom uses getrandom(), /dev/urandom is for code
# that opens it)
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")


def interpreter_paths():
    """What the interpreter reads, none beneath another: its executable, its
    module search path (with what .pth files added), the directories of the shared objects it has
    loaded (libpython, extension modules and the libraries they link) and the system library
    directories (the libraries of extension modules a call imports later, the dynamic loader).
    Nothing else of the host: no home, no /etc, no project or run directory."""
    paths = [sys.executable] + [p for p in sys.path if p and os.path.isabs(p)]
    # as named (the view recreates symbolic links on the way) and as resolved
    candidates = set(paths) | {os.path.realpath(p) for p in paths}
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith("/") and ".so" in fields[5]:
                candidates.add(os.path.dirname(os.path.realpath(fields[5].rstrip("\n"))))
    candidates.update(SYSTEM_LIBRARY_DIRS)
    candidates.update(os.path.realpath(d) for d in SYSTEM_LIBRARY_DIRS)
    existing = sorted(p for p in candidates if os.path.exists(p))
    kept = []
    for path in existing:  # sorted: an ancestor comes before what lies beneath it
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def check_readable_by(uid, paths):
    """Fails unless `uid` (the calls' uid, without any capability) can read each path; a forked
    probe, since only the kernel knows (directory modes on the way, ACLs, the view's mounts)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        unreadable = []
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for path in paths:
                try:
                    if os.path.isdir(path):
                        os.listdir(path)
                    else:
                        os.close(os.open(path, os.O_RDONLY))
                except OSError as e:
                    unreadable.append("%s (%s)" % (path, e.strerror))
        except BaseException as e:
            unreadable.append("probe failed: %s" % e)
        os.write(write_fd, "; ".join(unreadable).encode()[:4000])
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        unreadable = f.read().decode()
    os.waitpid(pid, 0)
    if unreadable:
        raise RuntimeError(
            "the calls' uid %d cannot read what the interpreter needs: %s; with isolation none "
            "the interpreter must lie where other users can read it (not under a 0700 home): use "
            "isolation namespaces, or set tools.python_sandbox.executable to such an interpreter"
            % (uid, unreadable))


# ---------------------------------------------------------------- the mount namespace's view

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 16384, 1 << 18, 1 << 21, 1 << 24
MNT_DETACH = 2
# statvfs f_flag bit -> mount flag; a read-only remount inside a user namespace must keep the
# flags the bind source has (the kernel locks them), so they are copied
STATVFS_TO_MOUNT_FLAGS = {2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME,
                          2048: MS_NODIRATIME, 4096: MS_RELATIME}
VIEW, HOST = "/view", "/host"  # while the view is built: its root, and the host's root


def mount(source, target, fstype, flags, data):
    enc = lambda s: None if s is None else s.encode()
    if LIBC.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        fail("mount %s" % target)


def umount(target):
    if LIBC.umount2(target.encode(), MNT_DETACH) != 0:
        fail("umount %s" % target)


def pivot_root(new_root, put_old):
    number = {"x86_64": 155, "aarch64": 41}[platform.machine()]
    if LIBC.syscall(number, new_root.encode(), put_old.encode()) != 0:
        fail("pivot_root %s" % new_root)


def bind_read_only(source, target):
    mount(source, target, None, MS_BIND, None)
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
    host_flags = os.statvfs(source).f_flag
    for bit, flag in STATVFS_TO_MOUNT_FLAGS.items():
        if host_flags & bit:
            flags |= flag
    if not host_flags & (1024 | 4096):  # neither noatime nor relatime: strictatime
        flags |= MS_STRICTATIME
    mount(None, target, None, flags, None)


def expose(path, exposed, depth=0):
    """Makes the host's `path` visible read-only at the same place in the view, recreating the
    symbolic links on the way (/lib64 -> usr/lib64 of a merged /usr); `exposed` holds what is
    already there."""
    if depth > 40:
        raise OSError(errno.ELOOP, "too many symbolic links", path)
    parts = [p for p in path.split("/") if p]
    current = ""
    for i, name in enumerate(parts):
        current += "/" + name
        if current in exposed:
            return
        info = os.lstat(HOST + current)
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(HOST + current)
            if not os.path.lexists(VIEW + current):
                os.symlink(target, VIEW + current)
            resolved = os.path.normpath(os.path.join(os.path.dirname(current), target))
            return expose("/".join([resolved] + parts[i + 1:]), exposed, depth + 1)
        if i < len(parts) - 1:
            if not os.path.isdir(VIEW + current):
                os.mkdir(VIEW + current, 0o755)
        elif stat.S_ISDIR(info.st_mode):
            if not os.path.isdir(VIEW + current):
                os.mkdir(VIEW + current, 0o755)
            bind_read_only(HOST + current, VIEW + current)
            exposed.add(current)
        else:
            os.close(os.open(VIEW + current, os.O_CREAT | os.O_WRONLY, 0o644))
            bind_read_only(HOST + current, VIEW + current)
            exposed.add(current)


def mount_private_tmpfs(target, tmpfs_bytes):
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=%d,mode=1777" % tmpfs_bytes)


def mount_own_proc(target, notes):
    """A /proc that shows each process only its own uid's processes, and of the system-wide
    files nothing (subset=pid, Linux >= 5.8)."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    for options in ("hidepid=invisible,subset=pid", "hidepid=2"):
        try:
            mount("proc", target, "proc", flags, options)
            if options != "hidepid=invisible,subset=pid":
                notes.append("/proc mounted with %s (no subset=pid on this kernel)" % options)
            return
        except OSError:
            continue
    mount("proc", target, "proc", flags, None)
    notes.append("/proc mounted without hidepid (refused by this kernel)")


def enter_minimal_root(readable, private, tmpfs_bytes, notes):
    """Replaces the root of this mount namespace with a view holding only `readable` (read-only,
    at their host paths), the devices of DEVICES, a private /proc and private tmpfs mounts at
    `private`; everything else of the host is unmounted from the namespace. The way bubblewrap and
    nsjail do it: a tmpfs root, bind mounts, pivot_root, then the old root detached."""
    for path in readable:
        hidden = [p for p in private if path == p or path.startswith(p + "/")]
        if hidden:
            raise RuntimeError("the interpreter's %s lies in %s, which the sandbox replaces with a "
                               "private tmpfs: install the interpreter elsewhere" % (path, hidden[0]))
    mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    # a scratch tmpfs becomes the root for a while, with the host's tree beneath it at /host
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=65536,mode=0700")
    os.mkdir("/tmp" + HOST)
    pivot_root("/tmp", "/tmp" + HOST)
    os.chdir("/")
    os.mkdir(VIEW)
    mount("tmpfs", VIEW, "tmpfs", MS_NOSUID | MS_NODEV, "size=1048576,mode=0755")
    exposed = set()
    for path in list(readable) + list(DEVICES):
        expose(path, exposed)
    for path in private:
        os.makedirs(VIEW + path, 0o755, exist_ok=True)
        mount_private_tmpfs(VIEW + path, tmpfs_bytes)
    os.mkdir(VIEW + "/proc", 0o555)
    mount_own_proc(VIEW + "/proc", notes)
    os.chdir(VIEW)
    pivot_root(".", ".")  # the old root now lies on top of the view; detach it with the host
    umount(".")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    probe = "/.arpo4j-write-probe"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_WRONLY, 0o600))
        os.unlink(probe)
        raise RuntimeError("root of the view still writable after read-only remount")
    except OSError as e:
        if e.errno != errno.EROFS:
            raise


# ---------------------------------------------------------------- the private IPC namespace

def limit_sysv_shared_memory(total_bytes, notes):
    """SysV shared memory of the private IPC namespace bounded like its /dev/shm (these sysctls
    belong to the IPC namespace; /proc is still writable before the read-only remount)."""
    try:
        with open("/proc/sys/kernel/shmmax", "w") as f:
            f.write(str(total_bytes))
        with open("/proc/sys/kernel/shmall", "w") as f:
            f.write(str(max(1, total_bytes // os.sysconf("SC_PAGE_SIZE"))))
    except OSError as e:
        notes.append("SysV shared memory not bounded (%s)" % e.strerror)


IPC_RMID = 0
SYSV_REMOVERS = {"shm": lambda id_: LIBC.shmctl(id_, IPC_RMID, None),
                 "msg": lambda id_: LIBC.msgctl(id_, IPC_RMID, None),
                 "sem": lambda id_: LIBC.semctl(id_, 0, IPC_RMID)}


def remove_sysv_ipc_objects(sysvipc_dir):
    """Removes every SysV object of the worker's private IPC namespace: all were made by calls,
    and all of the call's processes are dead, so shared memory is freed at once. `sysvipc_dir`:
    a descriptor of /proc/sysvipc, opened before the view (whose /proc has only processes)."""
    for kind, remove in SYSV_REMOVERS.items():
        try:
            fd = os.open(kind, os.O_RDONLY, dir_fd=sysvipc_dir)
        except OSError:
            continue
        chunks = []
        try:  # raw reads: text I/O costs the worker more than the removal itself (after a fork,
            # each page the worker writes is a fault)
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        for row in b"".join(chunks).splitlines()[1:]:
            id_ = int(row.split()[1])
            if remove(id_) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.EIDRM):
                fail("removing SysV %s %d" % (kind, id_))


# ---------------------------------------------------------------- per-call confinement

def outer_uid_of(uid):
    """The uid in the initial user namespace that `uid` maps to (0 for real root)."""
    with open("/proc/self/uid_map") as f:
        for line in f:
            inside, outside, count = (int(x) for x in line.split())
            if inside <= uid < inside + count:
                return outside + uid - inside
    return -1


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_every_capability():
    header = CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (CapData * 2)()
    if LIBC.capset(ctypes.byref(header), data) != 0:
        fail("capset")


def drop_privileges(sandbox_uid):
    if sandbox_uid is not None:
        # Real root: become an unprivileged uid (so RLIMIT_NPROC applies and the kill by uid
        # reaches only the call's processes); changing every uid away from 0 clears all
        # capabilities. What the call may read is the view / the Landlock allow-list.
        os.setgroups([])
        os.setresgid(sandbox_uid, sandbox_uid, sandbox_uid)
        os.setresuid(sandbox_uid, sandbox_uid, sandbox_uid)
    elif os.geteuid() == 0:
        # root inside a user namespace: keep the uid, lose every capability (no remount)
        drop_every_capability()
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def count_tasks_of(uid):
    """Threads owned by `uid` (what RLIMIT_NPROC counts), as far as /proc shows them."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            if int(status["Uid"].split()[0]) == uid:
                total += int(status["Threads"])
        except (OSError, KeyError, ValueError):
            pass
    return total


LIMITED = (resource.RLIMIT_CORE, resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_FSIZE,
           resource.RLIMIT_NPROC)


def set_limits(cfg, sandbox_uid):
    def limit(kind, soft, hard=None):
        resource.setrlimit(kind, (soft, soft if hard is None else hard))

    limit(resource.RLIMIT_CORE, 0)
    limit(resource.RLIMIT_CPU, cfg["cpu_seconds"], cfg["cpu_seconds"] + 1)
    limit(resource.RLIMIT_AS, cfg["address_space_bytes"])
    limit(resource.RLIMIT_FSIZE, cfg["max_file_bytes"])
    # RLIMIT_NPROC counts every task of the uid. A dedicated sandbox uid starts at zero;
    # otherwise the tasks the uid already has are added so the limit means "new tasks".
    existing = 0 if sandbox_uid is not None else count_tasks_of(os.getuid())
    limit(resource.RLIMIT_NPROC, existing + cfg["max_processes"])


# Landlock: a kernel-enforced, unprivileged allow-list of what a process may do with files.
LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
LL_ABI1_ALL = (1 << 13) - 1  # execute, write, read, read dir, remove dir/file, make any kind
LL_REFER, LL_TRUNCATE, LL_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
LL_FILE_RIGHTS = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV
LL_SCOPE_ABSTRACT_UNIX, LL_SCOPE_SIGNAL = 1, 2
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446


class LandlockRulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class LandlockPathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi():
    if platform.machine() not in ("x86_64", "aarch64"):
        return 0
    version = LIBC.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), 1)
    return max(version, 0)


class LandlockRules:
    """The calls' allow-list: every file access the kernel's Landlock ABI knows is refused except
    reading and executing beneath `readable`, anything beneath the call's writable directories,
    reading and writing /dev/null, reading the other DEVICES and the process's own /proc entry. On
    ABI >= 6 also no signalling of, or connecting to abstract sockets of, processes outside the
    sandbox. The worker builds each call's ruleset before the fork; the child adds only its /proc
    entry (Python work in the child is what a call pays for: each page it writes is a
    copy-on-write fault)."""

    def __init__(self, abi, readable):
        self.handled = LL_ABI1_ALL
        if abi >= 2:
            self.handled |= LL_REFER
        if abi >= 3:
            self.handled |= LL_TRUNCATE
        if abi >= 5:
            self.handled |= LL_IOCTL_DEV
        self.attr = LandlockRulesetAttr(self.handled, 0, 0)
        self.attr_size = 8
        if abi >= 6:
            self.attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL
            self.attr_size = ctypes.sizeof(self.attr)
        read = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR
        paths = [(p, read) for p in readable]
        paths += [("/dev/null", LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE)]
        paths += [(d, LL_READ_FILE) for d in DEVICES if d != "/dev/null"]
        # what never changes, opened once (rules hold inodes; the fds stay open in the worker)
        self.fixed = [self.rule(os.open(p, os.O_PATH | os.O_CLOEXEC), r) for p, r in paths]
        self.proc_self = LandlockPathBeneath((LL_READ_FILE | LL_READ_DIR) & self.handled, -1)

    def rule(self, fd, rights):
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= LL_FILE_RIGHTS
        return LandlockPathBeneath(rights & self.handled, fd)

    def ruleset(self, writable_dirs):
        """A new ruleset with every rule but the child's /proc entry; the caller closes it."""
        ruleset = LIBC.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(self.attr),
                               ctypes.c_size_t(self.attr_size), 0)
        if ruleset < 0:
            fail("landlock_create_ruleset")
        try:
            for rule in self.fixed:
                add_landlock_rule(ruleset, rule)
            for path in writable_dirs:  # fresh mounts and directories: opened per call
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                try:
                    add_landlock_rule(ruleset, self.rule(fd, self.handled))
                finally:
                    os.close(fd)
        except BaseException:
            os.close(ruleset)
            raise
        return ruleset


def add_landlock_rule(ruleset, rule):
    if LIBC.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) != 0:
        fail("landlock_add_rule")


def restrict_filesystem(ruleset, proc_self):
    """In the child: its own /proc entry added to the worker's ruleset, then enforced."""
    proc_self.parent_fd = os.open("/proc/self", os.O_PATH | os.O_CLOEXEC)  # this process's
    add_landlock_rule(ruleset, proc_self)
    if LIBC.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
        fail("landlock_restrict_self")


# seccomp. Refused with EPERM for every call:
# - socket() of every family, connect() and bind(): no socket of the host (internet, netlink, a
#   pathname or abstract AF_UNIX socket) can be reached. socketpair() stays allowed for
#   AF_UNIX/SOCK_STREAM only (asyncio and multiprocessing.Pipe need it; a stream pair cannot be
#   pointed at another address, a datagram pair could sendto() one);
# - io_uring_setup (io_uring can open sockets itself);
# - ptrace, process_vm_readv/writev, pidfd_getfd (no taking another process's sockets or memory);
# - kernel keyrings (add_key, request_key, keyctl): keys would outlive the call;
# - POSIX message queues: they would outlive the call;
# - SysV IPC (shm, msg, sem) when the worker has no private IPC namespace: objects would outlive
#   the call and the host's could be attached.
# Any syscall made through a foreign ABI (x32, int 0x80) kills the process.
SYSCALLS = {
    "x86_64": dict(arch=0xC000003E, socket=41, connect=42, bind=49, socketpair=53,
                   io_uring_setup=425, ptrace=101, process_vm_readv=310, process_vm_writev=311,
                   pidfd_getfd=438, add_key=248, request_key=249, keyctl=250,
                   mq=range(240, 246), sysv=[29, 30, 31, 64, 65, 66, 67, 68, 69, 70, 71, 220]),
    "aarch64": dict(arch=0xC00000B7, socket=198, connect=203, bind=200, socketpair=199,
                    io_uring_setup=425, ptrace=117, process_vm_readv=270, process_vm_writev=271,
                    pidfd_getfd=438, add_key=217, request_key=218, keyctl=219,
                    mq=range(180, 186), sysv=range(186, 198)),
}
AF_UNIX, SOCK_STREAM, SOCK_TYPE_MASK = 1, 1, 0xF
KEYCTL_JOIN_SESSION_KEYRING = 1


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


def seccomp_program(nr, allow_sysv):
    """The BPF program as (code, jt, jf, k) tuples; jumps are resolved from labels."""
    ld, jeq, jge, alu_and, ret = 0x20, 0x15, 0x35, 0x54, 0x06
    allow, kill, deny = 0x7FFF0000, 0x80000000, 0x00050000 | errno.EPERM
    denied = [nr[name] for name in ("socket", "connect", "bind", "io_uring_setup", "ptrace",
                                    "process_vm_readv", "process_vm_writev", "pidfd_getfd",
                                    "add_key", "request_key", "keyctl")]
    denied += list(nr["mq"])
    if not allow_sysv:
        denied += list(nr["sysv"])
    program = [
        (ld, 0, 0, 4),                    # A = arch
        (jeq, "native", 0, nr["arch"]),
        (ret, 0, 0, kill),
        "native",
        (ld, 0, 0, 0),                    # A = syscall number
        (jge, "deny", 0, 0x40000000),     # x32 ABI
        (jeq, "socketpair", 0, nr["socketpair"]),
    ]
    program += [(jeq, "deny", 0, number) for number in denied]
    program += [
        (ret, 0, 0, allow),
        "socketpair",
        (ld, 0, 0, 16),                   # low word of args[0]: the family
        (jeq, 0, "deny", AF_UNIX),
        (ld, 0, 0, 24),                   # low word of args[1]: the type and its flags
        (alu_and, 0, 0, SOCK_TYPE_MASK),
        (jeq, 0, "deny", SOCK_STREAM),
        (ret, 0, 0, allow),
        "deny",
        (ret, 0, 0, deny),
    ]
    labels, position = {}, 0
    for item in program:
        if isinstance(item, str):
            labels[item] = position
        else:
            position += 1
    resolved = []
    for item in program:
        if isinstance(item, str):
            continue
        code, jt, jf, k = item
        here = len(resolved)
        jt = labels[jt] - here - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - here - 1 if isinstance(jf, str) else jf
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("seccomp jump out of range")
        resolved.append((code, jt, jf, k))
    return resolved


def install_seccomp_filter(allow_sysv):
    program = seccomp_program(SYSCALLS[platform.machine()], allow_sysv)
    filters = (SockFilter * len(program))(*[SockFilter(*p) for p in program])
    fprog = SockFprog(len(program), filters)
    if LIBC.prctl(PR_SET_SECCOMP, ctypes.c_ulong(2), ctypes.byref(fprog), ctypes.c_ulong(0),
                  ctypes.c_ulong(0)) != 0:
        fail("seccomp")


def join_fresh_session_keyring():
    """An empty anonymous session keyring instead of the one inherited from the JVM."""
    if platform.machine() in SYSCALLS:
        LIBC.syscall(SYSCALLS[platform.machine()]["keyctl"], KEYCTL_JOIN_SESSION_KEYRING, None)


# ---------------------------------------------------------------- running the code

def bare_fork():
    """fork() without CPython's at-fork work when only this thread runs Python. That work exists
    for the threads fork leaves behind (reinitialised locks, threading's bookkeeping, mostly
    threading._after_fork); none exist here, and in the child it is what a call paid most for:
    ~200 copy-on-write page faults, ~8 ms of CPU where a fault costs ~40 us (measured on a VM
    that virtualises page tables in software). Of the at-fork handlers only random's matters
    here: see fork_for_call."""
    if len(sys._current_frames()) != 1:
        return os.fork()
    pid = LIBC_FORK()
    return os.fork() if pid < 0 else pid  # on failure: os.fork's error (or a child after all)


def fork_for_call():
    if "random" in sys.modules:
        sys.modules["random"].seed()  # each call its own sequence, as after os.fork()
    return bare_fork()


def warm_up(scratch):
    """What the first uses in a process build and later uses reuse, built once by the worker so
    that no call builds it (in a call each page written is a copy-on-write fault): the parser's
    and compiler's state (a first parse in a process costs ~25 faults more) and the specialised
    bytecode of run_code, ast.parse and os.environ's methods (CPython 3.11+ rewrites a
    function's bytecode over its first calls); an environment array of libc's own holding HOME
    and TMPDIR (a call's setenv() then replaces them instead of copying the array); the lazily
    bound libc functions a call's set-up uses, bound by calls that change nothing (a first call
    looks the symbol up and writes the GOT: a few faults each; setsid(): see zygote_main)."""
    for _ in range(10):
        run_code("import os\nx = [1, 2.5, 'a', None]\nx[0] = 37 * 91 + 12\nx = None\nx")
        os.environ["HOME"] = scratch
        os.environ["TMPDIR"] = scratch
    linecache.cache.pop(CODE_FILENAME, None)
    os.chdir(os.getcwd())
    for kind in LIMITED:
        resource.setrlimit(kind, resource.getrlimit(kind))
    os.setresgid(-1, -1, -1)
    os.setresuid(-1, -1, -1)
    try:
        os.setgroups(os.getgroups())
    except OSError:  # refused in a user namespace: bound all the same
        pass


def run_code(code):
    """Executes `code` like a script; if its last statement is an expression whose value is
    not None, prints that value (as print() would). Returns the exit status."""
    linecache.cache[CODE_FILENAME] = (len(code), None, code.splitlines(True), CODE_FILENAME)
    try:
        tree = ast.parse(code, CODE_FILENAME, "exec")
    except (SyntaxError, ValueError) as e:
        sys.stderr.write("".join(traceback.format_exception_only(type(e), e)))
        return 1
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    scope = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(tree, CODE_FILENAME, "exec"), scope)
        if last is not None:
            value = eval(compile(last, CODE_FILENAME, "eval"), scope)
            if value is not None:
                print(value)
        return 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except BaseException as e:  # the model should see every error, MemoryError included
        sys.stdout.flush()
        tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
        sys.stderr.write("".join(traceback.format_exception(type(e), e, tb)))
        return 1


def call_stdio():
    """The calls' sys.stdout and sys.stderr, made once by the worker (made in each child they cost
    it ~50 copy-on-write faults): wrappers of fds 1 and 2, made while those are a pipe, as in a
    call (a wrapper remembers whether its file is seekable)."""
    saved = [os.dup(1), os.dup(2)]
    read_fd, write_fd = os.pipe()
    try:
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        out = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                               errors="backslashreplace")
        err = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                               errors="backslashreplace", line_buffering=True)
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [read_fd, write_fd]:
            os.close(fd)
    return out, err


def child_main(cfg, code, workdir, out_fd, null_fd, stdio, ruleset, proc_self, sandbox_uid):
    """The call's process. The seccomp filter and the session keyring are the worker's, inherited;
    SIGPIPE is ignored as the worker ignores it (Python's usual disposition)."""
    os.setsid()
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.dup2(null_fd, 0)
    os.chdir(workdir)
    os.environ["HOME"] = workdir
    os.environ["TMPDIR"] = workdir
    tempfile.tempdir = workdir
    sys.path.insert(0, "")  # like `python -c`: modules in the working directory import
    sys.stdout, sys.stderr = stdio
    status = 1
    try:
        set_limits(cfg, sandbox_uid)
        drop_privileges(sandbox_uid)
        if ruleset is not None:
            restrict_filesystem(ruleset, proc_self)
        # the worker's descriptors (protocol pipes, rule paths), before any code runs
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    except BaseException as e:
        sys.stderr.write("sandbox set-up failed: %s\n" % e)
    else:
        status = run_code(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(status if 0 <= status < 256 else 1)


class ZygoteGone(BaseException):
    """The zygote died: the worker cannot run calls any more and ends (Java replaces it)."""


class Zygote:
    """A copy of the worker, made once the worker is set up, that forks each call's process and
    cleans up after it (kills what the call left, reaps), so that the worker itself never forks
    again. Why: after a fork every page the forking process writes costs it a copy-on-write
    fault (tens of us where page tables are virtualised in software); the worker's per-call work
    (protocol, supervision, scratch, answer) wrote ~200 pages per call, the zygote's loop writes
    about half as many. The call's process is the zygote's child; the worker watches it through a
    pidfd (it stays a zombie until the zygote is told to finish)."""

    HEADER = struct.Struct("=II")  # lengths of the working directory and of the code
    RESULT = struct.Struct("=idd")  # wait status, user and system CPU seconds

    def __init__(self, worker):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                self.sock.close()
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the worker
                if os.getppid() != parent:  # (the worker died before that)
                    os._exit(0)
                zygote_main(worker, theirs)
            finally:
                os._exit(1)  # never back into the worker's loop
        theirs.close()

    def start(self, code, workdir, out_fd, ruleset):
        """The new call's pid; the zygote holds `out_fd` and `ruleset` until it has forked."""
        payload = workdir.encode() + code.encode("utf-8", "surrogatepass")
        fds = array.array("i", [out_fd] + ([] if ruleset is None else [ruleset]))
        try:
            self.sock.sendmsg([self.HEADER.pack(len(workdir.encode()), len(payload))],
                              [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            self.sock.sendall(payload)
        except OSError as e:
            raise ZygoteGone("the zygote process ended (%s)" % e) from None
        pid = struct.unpack("=i", self.receive(4))[0]
        if pid < 0:
            raise OSError(-pid, "fork: %s" % os.strerror(-pid))
        return pid

    def finish(self):
        """Has everything the call started killed and reaped: (wait status, CPU seconds)."""
        try:
            self.sock.sendall(b"f")
        except OSError as e:
            raise ZygoteGone("the zygote process ended (%s)" % e) from None
        status_word, utime, stime = self.RESULT.unpack(self.receive(self.RESULT.size))
        return status_word, utime + stime

    def receive(self, size):
        data = receive_exactly(self.sock, size)
        if data is None:
            raise ZygoteGone("the zygote process ended")
        return data


def receive_exactly(sock, size):
    """`size` bytes from `sock`, or None once the other end is gone."""
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except OSError:
            chunk = b""
        if not chunk:
            return None
        data += chunk
    return data


def receive_or_exit(sock, size):  # in the zygote: without its worker it has nothing to do
    data = receive_exactly(sock, size)
    if data is None:
        os._exit(0)
    return data


def zygote_main(worker, sock):
    prctl(PR_SET_CHILD_SUBREAPER, 1)  # the call's orphans come here (not inherited from fork)
    # a session of its own (no terminal's signals; it dies with the worker): this also binds
    # setsid() for the calls, which are not session leaders of their own otherwise
    os.setsid()
    # nothing of the worker's but what the calls need (their stdin, this socket until they close
    # it with the other descriptors)
    low = 3
    for fd in sorted({sock.fileno(), worker.null_fd}):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    proc_self = None if worker.landlock is None else worker.landlock.proc_self
    fd_space = socket.CMSG_SPACE(2 * array.array("i").itemsize)
    while True:
        header, ancillary, _, _ = sock.recvmsg(Zygote.HEADER.size, fd_space)
        if not header:
            os._exit(0)  # the worker is gone
        fds = array.array("i")
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        header += receive_or_exit(sock, Zygote.HEADER.size - len(header))
        workdir_size, size = Zygote.HEADER.unpack(header)
        payload = receive_or_exit(sock, size)
        workdir = payload[:workdir_size].decode()
        code = payload[workdir_size:].decode("utf-8", "surrogatepass")
        try:
            pid = fork_for_call()
        except OSError as e:
            pid = -(e.errno or errno.EAGAIN)
        if pid == 0:
            try:
                child_main(worker.cfg, code, workdir, fds[0], worker.null_fd, worker.stdio,
                           fds[1] if len(fds) > 1 else None, proc_self, worker.sandbox_uid)
            finally:
                os._exit(1)
        for fd in fds:
            os.close(fd)
        sock.sendall(struct.pack("=i", pid))
        if pid < 0:
            continue
        receive_or_exit(sock, 1)  # the worker is done with the call
        worker.kill_everything(pid)
        status_word, usage = worker.reap(pid)
        worker.reap_orphans()
        sock.sendall(Zygote.RESULT.pack(status_word, usage.ru_utime, usage.ru_stime))


class Worker:
    def __init__(self, cfg):
        self.cfg = cfg
        self.notes = []
        self.protections = []
        self.pid1 = os.getpid() == 1
        real_root = os.geteuid() == 0 and outer_uid_of(0) == 0
        self.sandbox_uid = cfg["sandbox_uid"] if real_root else None
        abi = landlock_abi()
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        prctl(PR_SET_DUMPABLE, 0)
        for name in cfg["preload"]:
            try:
                __import__(name)
            except BaseException as e:  # a missing optional module is not fatal
                self.notes.append("preload %s failed: %s" % (name, type(e).__name__))
        # after the preload, so that the directories of the libraries it loaded are known
        self.readable = interpreter_paths()
        if cfg["namespaces"]:
            # private tmpfs at /tmp (the scratch area) and /dev/shm (for multiprocessing)
            private = ["/tmp"] + [p for p in ("/dev/shm",) if os.path.isdir(p)]
            limit_sysv_shared_memory(cfg["tmpfs_bytes"], self.notes)
            self.sysvipc_dir = os.open("/proc/sysvipc", os.O_RDONLY | os.O_DIRECTORY)
            enter_minimal_root(self.readable, private, cfg["tmpfs_bytes"], self.notes)
            self.protections += ["mount-ns-view", "net-ns", "ipc-ns"]
            self.scratch, self.extra_writable = "/tmp", private[1:]
        else:
            self.scratch, self.extra_writable = cfg["scratch"], []
            if self.sandbox_uid is not None:
                # the calls' uid reaches its working directory beneath; it cannot list the others
                os.chmod(self.scratch, 0o711)
        if self.pid1:
            self.protections.append("pid-ns")
        if self.sandbox_uid is not None:
            self.protections.append("uid-%d" % self.sandbox_uid)
            check_readable_by(self.sandbox_uid, self.readable)
        self.landlock = None
        if abi >= 1:
            self.protections.append("landlock-fs")
            if abi >= 6:
                self.protections.append("landlock-scope")
            self.landlock = LandlockRules(abi, self.readable)
        else:
            self.notes.append("Landlock unavailable: files are confined by the view only"
                              if cfg["namespaces"] else "Landlock unavailable")
        if platform.machine() in SYSCALLS:
            self.protections.append("seccomp")
        else:
            self.notes.append("no seccomp filter for %s" % platform.machine())
        self.protections.append("rlimits")
        self.null_fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)  # the calls' stdin
        self.stdio = call_stdio()
        warm_up(self.scratch)
        # Set up once here rather than in every child (the calls inherit both, and the filter
        # keeps them from changing either): an empty session keyring instead of the JVM's, and
        # the seccomp filter (the worker itself needs none of what it refuses).
        join_fresh_session_keyring()
        if "seccomp" in self.protections:
            prctl(PR_SET_NO_NEW_PRIVS, 1)  # required without CAP_SYS_ADMIN; no exec needs more
            install_seccomp_filter(allow_sysv="ipc-ns" in self.protections)
        # keep the preloaded objects out of the children's garbage collections, so that a call
        # does not copy (copy-on-write) the pages holding them
        gc.freeze()
        self.calls = 0
        self.zygote = Zygote(self)

    def call(self, code, timeout):
        self.calls += 1
        workdir = os.path.join(self.scratch, "call-%d" % self.calls)
        os.mkdir(workdir, 0o700)
        if self.sandbox_uid is not None:
            os.chown(workdir, self.sandbox_uid, self.sandbox_uid)
        ruleset = None if self.landlock is None else \
            self.landlock.ruleset([workdir] + self.extra_writable)
        read_fd = None
        try:
            read_fd, write_fd = os.pipe()
            try:
                started = time.monotonic()
                pid = self.zygote.start(code, workdir, write_fd, ruleset)
            finally:
                os.close(write_fd)
        except BaseException:
            if read_fd is not None:
                os.close(read_fd)
            raise
        finally:
            if ruleset is not None:
                os.close(ruleset)
        try:
            output, reason = self.supervise(pid, read_fd, started + timeout)
        finally:
            os.close(read_fd)
            status_word, cpu = self.zygote.finish()  # kills everything, reaps
        wall = time.monotonic() - started
        self.empty_scratch()
        if "ipc-ns" in self.protections:
            remove_sysv_ipc_objects(self.sysvipc_dir)
        response = {"output": output.decode("utf-8", "replace"), "wall_s": round(wall, 4),
                    "cpu_s": round(cpu, 4),
                    "exit_code": None, "signal": None}
        if os.WIFSIGNALED(status_word):
            response["signal"] = os.WTERMSIG(status_word)
        else:
            response["exit_code"] = os.WEXITSTATUS(status_word)
        if reason is not None:
            response["status"] = reason
        elif response["signal"] == signal.SIGXCPU or (
                response["signal"] == signal.SIGKILL
                and cpu >= self.cfg["cpu_seconds"] - 0.05):
            # SIGXCPU comes from the soft RLIMIT_CPU, whose tick-sampled CPU time can run ahead
            # of wait4's precise one under contention (0.97 s at a 1 s limit, measured); SIGKILL
            # is the hard limit (a second later) only if the call used its CPU time
            response["status"] = "cpu_limit"
        elif response["signal"] is not None:
            response["status"] = "signal"
        else:
            response["status"] = "ok" if response["exit_code"] == 0 else "error"
        return response

    def supervise(self, pid, read_fd, deadline):
        """Collects at most output_limit_bytes of output until the child exits, the
        deadline passes (timeout) or the output overflows (output_limit)."""
        limit = self.cfg["output_limit_bytes"]
        output = bytearray()
        poller = select.poll()
        poller.register(read_fd, select.POLLIN)
        pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        reading, exited = True, False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return bytes(output), "timeout"
                wait_ms = remaining * 1000 if pidfd is not None else min(remaining * 1000, 5)
                for fd, _ in poller.poll(max(wait_ms, 1)):
                    if fd == read_fd:
                        chunk = os.read(read_fd, min(65536, limit + 1 - len(output)))
                        if not chunk:
                            reading = False
                            poller.unregister(read_fd)
                        else:
                            output += chunk
                            if len(output) > limit:
                                return bytes(output[:limit]), "output_limit"
                    elif fd == pidfd:
                        exited = True
                if pidfd is None and not exited:
                    exited = is_zombie(pid)
                if exited:
                    # the child is gone; take what is already in the pipe (a background
                    # process it started may keep the pipe open, so never wait for EOF)
                    os.set_blocking(read_fd, False)
                    while reading and len(output) <= limit:
                        try:
                            chunk = os.read(read_fd, limit + 1 - len(output))
                        except BlockingIOError:
                            break
                        if not chunk:
                            break
                        output += chunk
                    if len(output) > limit:
                        return bytes(output[:limit]), "output_limit"
                    return bytes(output), None
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def kill_everything(self, pid):  # in the zygote
        """Kills the call's process group and, as far as this mode allows, every process
        the call may have started outside it."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.pid1:
            # the worker is pid 1 of a private pid namespace: -1 means every process in it but
            # the worker (init) and the zygote (the caller)
            os.kill(-1, signal.SIGKILL)
        elif self.sandbox_uid is not None:
            # every process of the dedicated uid, signalled by a helper running as that uid
            helper = bare_fork()
            if helper == 0:
                try:
                    os.setresuid(self.sandbox_uid, self.sandbox_uid, self.sandbox_uid)
                    if os.getuid() == self.sandbox_uid and os.geteuid() == self.sandbox_uid:
                        os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(helper, 0)

    def reap(self, pid):  # in the zygote
        _, status_word, usage = os.wait4(pid, 0)
        return status_word, usage

    def reap_orphans(self):  # in the zygote
        # orphans of the call were re-parented to this subreaper; all of them were killed
        # unless this is the unprivileged mode without a pid namespace, so only then poll.
        blocking = self.pid1 or self.sandbox_uid is not None
        while True:
            try:
                pid, _ = os.waitpid(-1, 0 if blocking else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def empty_scratch(self):
        if self.cfg["namespaces"]:
            # a fresh tmpfs for the next call, whatever this one left (a tree of any depth)
            for root in [self.scratch] + self.extra_writable:
                umount(root)
                mount_private_tmpfs(root, self.cfg["tmpfs_bytes"])
            return
        for root in [self.scratch] + self.extra_writable:
            for entry in os.listdir(root):
                remove_tree(os.path.join(root, entry))


def is_zombie(pid):
    """Whether the call's process has ended (without a pidfd; the zygote reaps it only when
    told to)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def remove_tree(path):
    """Removes `path` whatever the call left there: shutil.rmtree for the usual small tree, then
    GNU rm for what it cannot do (shutil recurses once per level and fails on deep trees and on
    paths longer than PATH_MAX); rm walks any depth. Without root, directories the call made
    unreadable are first made accessible again."""
    def make_writable_and_retry(function, target, _):
        parent = os.path.dirname(target)
        for p in (parent, target):
            try:
                os.chmod(p, 0o700, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
        function(target)

    if not os.path.isdir(path) or os.path.islink(path):
        os.unlink(path)
        return
    try:
        shutil.rmtree(path, onerror=make_writable_and_retry)
        return
    except (RecursionError, OSError):
        pass
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "u+rwx", "--", path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = subprocess.run(["rm", "-rf", "--one-file-system", "--", path],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    if os.path.lexists(path):
        raise OSError("cannot remove %s: %s" % (path, done.stderr.decode(errors="replace")[:500]))


def main():
    cfg = json.loads(sys.argv[1])
    # run with -c: the current directory ("") is no place to import modules from
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    # stray prints of the worker itself must never reach the protocol stream
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)

    def send(message):
        proto_out.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
        proto_out.flush()

    try:
        worker = Worker(cfg)
    except BaseException as e:
        send({"ready": False, "error": "%s: %s" % (type(e).__name__, e)})
        return 1
    send({"ready": True, "protections": worker.protections, "notes": worker.notes})
    for line in proto_in:
        request = json.loads(line)
        try:
            response = worker.call(request["code"], float(request["timeout"]))
        except Exception as e:  # the worker stays usable; Java reports the failure
            response = {"status": "internal_error", "output": "%s: %s" % (type(e).__name__, e)}
        response["id"] = request["id"]
        send(response)
    return 0


if __name__ == "__main__":
    # SIGPIPE stays ignored (Python's default; the calls inherit it): a write to a closed protocol
    # pipe raises and ends the worker
    sys.exit(main())
