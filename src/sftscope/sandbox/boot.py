"""Boot file: runs inside the sandbox before the untrusted program, then hands over to it with ``runpy``.

The supervisor writes ``_FLAGS = {...}`` above this source into the work dir. In order:

0. at the ``unshare`` level, a private root (``enter_private_root``), as bubblewrap builds one;

1. **seccomp** (kernel-enforced, irrevocable, inherited by every child): a classic-BPF filter that makes
   the syscalls below fail with EPERM. It is installed here, after bubblewrap/unshare have set up the
   namespaces (they need ``mount``/``unshare``) and after the interpreter was exec'd (so ``execve`` can be
   denied to the program). If it cannot be installed the boot exits 125 rather than run unfiltered.
2. the **audit hook** (Python level; a tripwire for accidents, not a boundary; see docs/sandbox.md);
3. the program, as ``__main__``.

Stdlib only: this runs under ``python -I`` in the sandbox interpreter.
"""

import os
import struct
import sys

# written above this source by the supervisor; the defaults are for running this file by hand
_FLAGS = globals().get("_FLAGS") or {"seccomp": True, "audit_hook": True}

# Denied syscalls and why:
#   execve/execveat: no other binary (bash, a compiler) runs after the interpreter;
#   memfd_create/memfd_secret/shmget: RAM that RLIMIT_AS does not count once unmapped;
#   socket: no host unix socket (a pathname socket is reachable through a shared filesystem), no network;
#   setsid/setpgid: every descendant stays in the program's process group, so one killpg ends them all;
#   ptrace/process_vm_*: no reading or writing another process of the same uid;
#   mount family/unshare/setns/chroot/pivot_root: the namespaces set up for the program stay as they are;
#   io_uring_*: io_uring operations are not seen by seccomp; keyctl/bpf/userfaultfd/perf_event_open:
#   kernel attack surface no solution needs.
_DENY = ("execve execveat memfd_create memfd_secret shmget socket setsid setpgid ptrace process_vm_readv "
         "process_vm_writev mount umount2 pivot_root unshare setns chroot open_tree move_mount fsopen fsmount "
         "mount_setattr io_uring_setup io_uring_enter io_uring_register keyctl add_key request_key bpf "
         "userfaultfd perf_event_open").split()
_SYSCALLS = {  # (AUDIT_ARCH_*, numbers) from the kernel's syscall tables
    "x86_64": (0xC000003E, dict(zip(_DENY, (
        59, 322, 319, 447, 29, 41, 112, 109, 101, 310, 311, 165, 166, 155, 272, 308, 161, 428, 429, 430, 432,
        442, 425, 426, 427, 250, 248, 249, 321, 323, 298)))),
    "aarch64": (0xC00000B7, dict(zip(_DENY, (
        221, 281, 279, 447, 194, 198, 157, 154, 117, 270, 271, 40, 39, 41, 97, 268, 51, 428, 429, 430, 432,
        442, 425, 426, 427, 219, 217, 218, 280, 282, 241)))),
}


def seccomp_program(machine: str) -> bytes:
    """The BPF program (struct sock_filter[]) denying ``_DENY`` on ``machine``; KeyError if unsupported."""
    arch, numbers = _SYSCALLS[machine]
    blocked = sorted(set(numbers.values()))
    n = len(blocked)
    ins = [(0x20, 0, 0, 4),                  # A = seccomp_data.arch
           (0x15, 1, 0, arch),               # native arch: skip the kill
           (0x06, 0, 0, 0x80000000),         # other ABIs (int 0x80 on x86_64): kill the process
           (0x20, 0, 0, 0),                  # A = seccomp_data.nr
           (0x35, n + 1, 0, 0x40000000)]     # x32 ABI numbers: deny
    ins += [(0x15, n - i, 0, nr) for i, nr in enumerate(blocked)]  # jump to "deny"
    ins += [(0x06, 0, 0, 0x7FFF0000),        # allow
            (0x06, 0, 0, 0x00050000 | 1)]    # deny: errno EPERM
    return b"".join(struct.pack("HBBI", *i) for i in ins)


def install_seccomp() -> None:
    """Load the filter into this process (NO_NEW_PRIVS first, as unprivileged seccomp requires)."""
    import ctypes

    code = seccomp_program(os.uname().machine)
    buf = ctypes.create_string_buffer(code, len(code))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(len(code) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # NO_NEW_PRIVS, SECCOMP
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


# mount(2) flags, and the statvfs flags that a bind remount inside a user namespace must keep (locked)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
_KEEP = ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, 1024), (2048, 2048), (4096, 1 << 21))
_DEV_NODES = ("null", "zero", "full", "random", "urandom")
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}


def enter_private_root(workdir: str, ro_roots=()) -> None:
    """The ``unshare`` level's filesystem boundary, built like bubblewrap's (we are root in a fresh user +
    mount namespace here, before seccomp): a read-only tmpfs root with ``/usr`` (and ``ro_roots``)
    bound read-only, a private ``/proc``, device nodes, ``/tmp`` and ``/dev/shm`` = the work dir's
    ``tmp/`` and ``shm/``, the work dir at ``/sandbox``; then ``pivot_root`` and the host tree is gone."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def mount(src, dst, fstype, flags, data=None):
        def enc(v):
            return v.encode() if isinstance(v, str) else v

        if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"mount {src} -> {dst}: {os.strerror(e)}")

    def bind(src, dst, readonly):
        mount(src, dst, None, MS_BIND | MS_REC)
        if readonly:
            keep = 0
            for st, ms in _KEEP:
                keep |= ms if os.statvfs(dst).f_flag & st else 0
            mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)

    root = os.path.join(workdir, ".root")
    os.makedirs(root, exist_ok=True)
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")  # mount points only
    for d in ("/usr", *ro_roots):
        os.makedirs(root + d, exist_ok=True)
        bind(d, root + d, True)
    for d in ("/bin", "/lib", "/lib64", "/sbin", "/lib32"):
        if os.path.islink(d):
            os.symlink(os.readlink(d), root + d)
        elif os.path.isdir(d):
            os.makedirs(root + d)
            bind(d, root + d, True)
    os.makedirs(root + "/proc")
    bind("/proc", root + "/proc", False)  # the fresh proc of our PID namespace (unshare --mount-proc)
    os.makedirs(root + "/dev/shm")
    for n in _DEV_NODES:
        open(f"{root}/dev/{n}", "w").close()
        bind(f"/dev/{n}", f"{root}/dev/{n}", False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    bind(os.path.join(workdir, "shm"), root + "/dev/shm", False)
    os.makedirs(root + "/tmp")
    bind(os.path.join(workdir, "tmp"), root + "/tmp", False)
    os.makedirs(root + "/sandbox")
    bind(workdir, root + "/sandbox", False)
    os.chdir(root)
    if libc.syscall(_PIVOT_ROOT[os.uname().machine], b".", b".") != 0:  # the old root is stacked under "."
        raise OSError(ctypes.get_errno(), "pivot_root")
    if libc.umount2(b".", 2) != 0:  # MNT_DETACH: the host tree is no longer reachable from here
        raise OSError(ctypes.get_errno(), "umount2 old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/sandbox")
    os.environ.update(HOME="/sandbox", TMPDIR="/tmp")


_ROOT = "/"
_READ_ROOTS: tuple = ()


def _set_roots() -> None:
    """What the audit hook lets the program touch: computed after the (possible) pivot into a private root."""
    global _ROOT, _READ_ROOTS
    _ROOT = os.path.realpath(os.getcwd())
    _READ_ROOTS = tuple(sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                              *[q for q in sys.path if q])}
                               | {"/usr", "/lib", "/lib64", "/etc/localtime", "/dev/urandom", "/dev/null"}))
_BLOCK_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                   "os.system", "os.kill", "os.killpg", "ctypes.", "pty.", "os.setsid", "os.chroot", "os.startfile")
_PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
                "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move"}


def _inside(p, roots):
    return any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots)


def _path_ok(path, write):
    if isinstance(path, int):
        return True
    try:
        p = os.path.realpath(os.fsdecode(path))
    except Exception:  # noqa: BLE001 - any undecodable or unresolvable path is outside the allowed roots
        return False
    return _inside(p, (_ROOT,)) or (not write and _inside(p, _READ_ROOTS))


def _hook(event, args):
    if event.startswith(_BLOCK_PREFIXES):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open":
        path, mode, flags = (list(args) + [None, None, None])[:3]
        write = bool(flags and (flags & 3)) or bool(mode and any(c in str(mode) for c in "wax+"))
        if not _path_ok(path, write):
            raise PermissionError(f"sandbox: open({path!r}) outside the working directory")
    elif event in _PATH_EVENTS:
        for a in args:
            if isinstance(a, (str, bytes, os.PathLike)) and not _path_ok(a, True):
                raise PermissionError(f"sandbox: {event}({a!r}) outside the working directory")


if __name__ == "__main__":
    if _FLAGS.get("private_root"):
        try:
            enter_private_root(**_FLAGS["private_root"])
        except Exception as e:  # noqa: BLE001 - fail closed: never run on the host tree by accident
            sys.stderr.write(f"sandbox: private root not set up ({e}); refusing to run the program\n")
            os._exit(125)
    _set_roots()
    if "SFTSCOPE_READY_FD" in os.environ:  # a judge: untraceable before the program starts (see supervisor._start)
        import ctypes

        if ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0: no /proc/<pid>/mem for same-uid
            os._exit(125)
        _ready = int(os.environ.pop("SFTSCOPE_READY_FD"))
        os.write(_ready, b"1")
        os.close(_ready)
    if _FLAGS.get("seccomp"):
        try:
            install_seccomp()
        except Exception as e:  # noqa: BLE001 - fail closed, whatever went wrong
            sys.stderr.write(f"sandbox: seccomp filter not installed ({e}); refusing to run the program\n")
            os._exit(125)
    if _FLAGS.get("audit_hook"):
        sys.addaudithook(_hook)
    # the program as a fresh __main__ module (what runpy.run_path does, without runpy's ~8 ms of imports)
    import types

    sys.argv[:] = ["program.py"]
    _main = types.ModuleType("__main__")
    _main.__file__ = "program.py"
    _main.__builtins__ = __builtins__
    sys.modules["__main__"] = _main
    with open("program.py", "rb") as _fh:
        _code = compile(_fh.read(), "program.py", "exec")
    exec(_code, _main.__dict__)
