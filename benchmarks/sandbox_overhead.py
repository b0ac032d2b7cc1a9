"""Sandbox overhead: one 0.1 s program run through the sandbox vs a bare ``python`` run of the same program.

Both are measured in this process, interleaved (bare, sandboxed, bare, ...) so load on a shared machine
hits both alike. The bare run uses the interpreter the sandbox runs programs with (``python -I prog.py``).
Prints the median wall time of each, the overhead per run (sandboxed - bare) and the ratio, per layer;
``--cli`` adds the commands, each a fresh process (interpreter, imports and layer detection included):
``sftscope sandbox run`` (the whole CLI is imported) and ``python -m sftscope.sandbox run`` (only the sandbox).

    python benchmarks/sandbox_overhead.py                  # every available layer, 15 runs each
    python benchmarks/sandbox_overhead.py --runs 30 --layers bwrap --cli
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

PROGRAM = "import time\ntime.sleep(0.1)\nprint(sum(range(1000)))\n"


def _wall(fn, cpu: list | None = None) -> float:
    """Wall seconds of fn(); appends to ``cpu`` the CPU seconds its child processes used (waited-for
    descendants: the supervisor, bubblewrap, the program) - steadier than wall time on a shared machine."""
    r0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    fn()
    wall, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return wall


def measure(layer: str, runs: int, cli: bool) -> dict:
    from sftscope.sandbox.runner import _sandbox_python, run_code

    python = _sandbox_python()
    with tempfile.TemporaryDirectory() as d:
        prog = os.path.join(d, "prog.py")
        with open(prog, "w") as fh:
            fh.write(PROGRAM)
        bare_cmd = [python, "-I", prog]
        # the console script's entry (`sftscope sandbox run`), without a shell shim (pyenv's adds ~0.1 s)
        entry = "import sys; from sftscope.entry import entrypoint; sys.argv = ['sftscope', *sys.argv[1:]]; entrypoint()"
        cli_cmds = {"cli": [sys.executable, "-c", entry, "sandbox", "run", prog, "--isolation", layer],
                    "module": [sys.executable, "-m", "sftscope.sandbox", "run", prog, "--isolation", layer]}
        res = run_code(PROGRAM, isolation=layer)  # warm-up: layer detection, page cache
        assert res.status == "ok" and res.stdout.strip() == "499500", res
        bare, boxed, via, cpu_bare, cpu_boxed = [], [], {k: [] for k in cli_cmds}, [], []
        for _ in range(runs):
            bare.append(_wall(lambda: subprocess.run(bare_cmd, capture_output=True, check=True), cpu_bare))
            boxed.append(_wall(lambda: run_code(PROGRAM, isolation=layer), cpu_boxed))
            for k, cmd in cli_cmds.items() if cli else ():
                via[k].append(_wall(lambda c=cmd: subprocess.run(c, capture_output=True, check=True)))
    out = {"layer": layer, "bare": statistics.median(bare), "sandbox": statistics.median(boxed),
           "cpu_bare": statistics.median(cpu_bare), "cpu_sandbox": statistics.median(cpu_boxed)}
    if cli:
        out.update({k: statistics.median(v) for k, v in via.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--layers", nargs="*", default=None, help="default: every available layer")
    ap.add_argument("--cli", action="store_true", help="also time `sftscope sandbox run` (a fresh process each)")
    args = ap.parse_args()
    from sftscope.sandbox.runner import LAYERS, detect_layers

    layers = args.layers or [name for name in LAYERS if detect_layers()[name]["available"]]
    print(f"program: sleep 0.1 s; {args.runs} runs per layer, medians; cores: {os.cpu_count()}")
    for layer in layers:
        m = measure(layer, args.runs, args.cli)
        line = (f"{layer:8s} bare {m['bare']:.3f} s  sandbox {m['sandbox']:.3f} s  "
                f"overhead {m['sandbox'] - m['bare']:+.3f} s  ratio {m['sandbox'] / m['bare']:.2f}x  "
                f"(CPU {m['cpu_bare']:.3f} -> {m['cpu_sandbox']:.3f} s)")
        for k, name in (("cli", "sftscope sandbox run"), ("module", "python -m sftscope.sandbox run")):
            if k in m:
                line += f"\n{'':8s} {name}: {m[k]:.3f} s (overhead {m[k] - m['bare']:+.3f} s, ratio {m[k] / m['bare']:.2f}x)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
