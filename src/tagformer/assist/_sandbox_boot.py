"""Runs a plot script inside its scratch directory with a Python audit hook that refuses writes outside
it, subprocesses and network connections: ``python -I -B _sandbox_boot.py SCRATCH SCRIPT``.

A guard against accidents of generated code (a stray ``savefig("/home/...")``, an ``rm``), not a security
boundary: code that really wants out (ctypes, C extensions writing files) can get out. Standalone on
purpose: it imports nothing from tagformer before the hook is installed.
"""

import os
import runpy
import sys

SCRATCH = os.path.realpath(sys.argv[1]) if __name__ == "__main__" else ""
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PATH_EVENTS = {"os.remove": (0,), "os.rename": (0, 1), "os.rmdir": (0,), "os.mkdir": (0,), "shutil.rmtree": (0,),
                "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,), "os.symlink": (0, 1), "os.link": (0, 1),
                "os.utime": (0,), "shutil.move": (0, 1), "shutil.copyfile": (1,)}
_REFUSED = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
            "socket.connect", "socket.sendto", "pty.spawn")
_ALLOWED_DEVICES = ("/dev/null", "/dev/stdout", "/dev/stderr")


def _inside(path) -> bool:
    if isinstance(path, int):
        return True  # a file descriptor: opened (and checked) before
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    full = os.path.realpath(os.path.join(os.getcwd(), os.fspath(path)))
    return full == SCRATCH or full.startswith(SCRATCH + os.sep) or full in _ALLOWED_DEVICES


def _hook(event, args) -> None:
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writing and path is not None and not _inside(path):
            raise PermissionError(f"plot code may only write inside its scratch directory, not {path}")
    elif event in _PATH_EVENTS:
        for i in _PATH_EVENTS[event]:
            if i < len(args) and args[i] is not None and not _inside(args[i]):
                raise PermissionError(f"plot code may only change files inside its scratch directory, not {args[i]}")
    elif event in _REFUSED:
        raise PermissionError(f"plot code may not start processes or open connections ({event})")


def main() -> None:
    script = sys.argv[2]
    os.chdir(SCRATCH)
    sys.addaudithook(_hook)
    sys.argv = [script]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
