"""Run every benchmark in turn and print a summary table of the figures the issues ask for.

    python bench/run_all.py            # every benchmark, full size (about 15 minutes on 2 cores)
    python bench/run_all.py --quick    # smaller runs: a smoke test of the benchmarks, not figures to quote
    python bench/run_all.py --only api_bench,failover_bench

Each benchmark's whole output is kept in bench/results/<name>.log (not committed); the summary quotes the
lines that carry its figures and targets. The docker benchmarks need a running engine (scripts/ensure-docker.sh).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (full-size arguments, quick arguments, regexes of the lines that hold the figures)
BENCHMARKS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "api_bench": ([], ["--quick"], [r"^(create|read)\s+\d+\s+[\d.]+", r"^leader changes"]),
    "failover_bench": ([], ["--trials", "5"], [r"first post-kill write acknowledged", r"new leader visible",
                                                r"^targets"]),
    "maintenance_bench": ([], ["--transfers", "3", "--restarts", "1"], [r"^SUMMARY"]),
    "scheduler_bench": ([], ["--minions", "20", "--rcs", "10", "--replicas", "30"],
                        [r"^bind rate", r"all .*bound", r"RSS"]),
    "pod_startup_bench": ([], ["--pods", "10", "--replacements", "2"],
                          [r"^docker floor", r"startup", r"create -> Running", r"^replacement"]),
    "density_bench": ([], ["--minions", "20", "--rcs", "10", "--replicas", "30"],
                      [r"Running", r"p99", r"leader change", r"RSS"]),
    "proxy_bench": ([], ["--seconds", "2", "--rounds", "1", "--bulk-mb", "20"], [r"^(direct|proxied|ratio)\s"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small runs (smoke test)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    summary: list[tuple[str, str, float, list[str]]] = []
    for name in names:
        full, quick, patterns = BENCHMARKS[name]
        argv = [sys.executable, str(HERE / f"{name}.py"), *(quick if args.quick else full)]
        print(f"=== {name}: {' '.join(argv[1:])}", flush=True)
        started = time.monotonic()
        log_path = results / f"{name}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE.parent)
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            code = proc.wait()
        took = time.monotonic() - started
        lines = log_path.read_text().splitlines()
        picked = [ln.strip() for ln in lines if any(re.search(p, ln.strip()) for p in patterns)]
        summary.append((name, "ok" if code == 0 else f"exit {code}", took, picked))
    print("\n" + "=" * 100 + "\nSUMMARY" + (" (--quick: smoke sizes, not figures to quote)" if args.quick else ""))
    for name, status, took, picked in summary:
        print(f"\n{name}  [{status}, {took:.0f} s]  (full output: bench/results/{name}.log)")
        for line in picked or ["(no figure lines found: see the log)"]:
            print(f"    {line}")
    return 0 if all(s == "ok" for _, s, _, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
