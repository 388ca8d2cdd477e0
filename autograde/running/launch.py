"""Run as a script in front of every kernel: set its limits, join its cgroups, exec the sandbox.

This replaces Popen's preexec_fn. Python documents preexec_fn as unsafe in a process with threads
(the grader has several: the reference warm-up, the gradebook, each run's pipe readers), and it
runs the at-fork hooks in the grader, where a Ctrl-C that lands inside one is printed and lost:
CI saw a run that had swallowed Ctrl-C that way hang on the logging lock. A fresh interpreter
(-I -S: no site, no environment) costs about 15 ms per notebook, once.

    python -I -S launch.py [--memory BYTES] [--cgroup DIR]... -- COMMAND...
"""
import os
import resource
import sys


def main(argv: list[str]) -> None:
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, value in zip(options[::2], options[1::2]):
        if name == "--memory" and int(value):
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
