"""Run as a script in front of every kernel: tie it to its parent, set its limits, join its cgroups,
exec the sandbox.

This replaces Popen's preexec_fn. Python documents preexec_fn as unsafe in a process with threads
(the grader has several: the reference warm-up, the gradebook, each run's pipe readers), and it
runs the at-fork hooks in the grader, where a Ctrl-C that lands inside one is printed and lost:
CI saw a run that had swallowed Ctrl-C that way hang on the logging lock. A fresh interpreter
(-I -S: no site, no environment) costs one bare interpreter start per notebook, small beside the
kernel's own start (time it: `python -m timeit -s "import subprocess, sys"
"subprocess.run([sys.executable, '-I', '-S', '-c', ''])"`).

    python -I -S launch.py [--parent PID] [--memory BYTES] [--cgroup DIR]... -- COMMAND...

--parent: the process that starts it. The command then gets SIGKILL when that process (strictly, the
thread of it that started the command) ends, killed or not: bwrap's --die-with-parent says the same,
but only once bwrap runs, and without bwrap nothing would. Set here it holds across exec and covers the
gap: a parent that dies before it is set is seen at once and nothing runs.
`die_with_parent` also ties the grader's pool workers to the grader (trusted/grade.py).
"""
import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when `parent` ends; kill it now if `parent` has already ended (then this
    process was handed to a reaper, and the signal would never come). Linux only; elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> None:
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, value in zip(options[::2], options[1::2]):
        if name == "--parent":
            die_with_parent(int(value))
        elif name == "--memory" and int(value):
            resource.setrlimit(resource.RLIMIT_AS, (int(value), int(value)))
        elif name == "--cgroup":  # children inherit the group, so the whole sandbox is counted
            with open(os.path.join(value, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
    os.execvp(command[0], command)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (OSError, ValueError) as e:
        sys.stderr.write(f"autograde launch: could not start the kernel: {e}\n")
        sys.exit(70)
