#!/usr/bin/env python3
"""Benchmark `orgops fmt` against `orgops validate` (see BENCHMARKS.md, "Format").

Usage: scripts/bench_fmt.py [--bin target/release/orgops] [--runs N] [--users 50000]
       [--projects 2500] [--members 100] [--commented 10000x10,20000x40] [--keep DIR]

Two kinds of input, each timed with `validate -f FILE` and `fmt --check -f FILE` (best of
`--runs`; wall and user+system CPU from `/usr/bin/time -v`, with peak RSS):

- the export of a generated organization (`orgops emulator --generate
  users=U,projects=P,project_members=M`, then `orgops export -o FILE`): what the docs promise
  passes `fmt --check`;
- comment-heavy files (`--commented USERSxCOMMENTS,...`): USERS users, each preceded by
  COMMENTS comment lines and followed by one at the end of its line, the shape the quadratic
  comment placement was reported on (10,000 x 10: 4.7 s; 20,000 x 40, 4 MB: 74 s).

Prints one JSON line per file: its size, both commands' exit codes and times, and
`fmt / validate`. `fmt --check` exits 0 on an export (it is formatted) and 1 on a commented
file only because the file is not in canonical layout (it then prints the diff: the time
includes computing it, the output goes to /dev/null).
"""
import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path


def timed(cmd, runs):
    """Best wall (s), its CPU (s), peak RSS (MB) and the exit code of `cmd` over `runs`."""
    best = None
    for _ in range(runs):
        proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True,
                              env={"NO_COLOR": "1", "ORGOPS_NO_PROGRESS": "1",
                                   "PATH": "/usr/bin:/bin"})
        err = proc.stderr

        def num(pattern):
            m = re.search(pattern, err)
            return float(m.group(1)) if m else float("nan")

        wall_m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", err)
        wall = (int(wall_m.group(1) or 0) * 3600 + int(wall_m.group(2)) * 60 + float(wall_m.group(3))) if wall_m else float("nan")
        cpu = num(r"User time \(seconds\): ([\d.]+)") + num(r"System time \(seconds\): ([\d.]+)")
        rss = num(r"Maximum resident set size \(kbytes\): (\d+)") / 1024
        run = {"code": proc.returncode, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
               "peak_rss_mb": round(rss, 1)}
        if best is None or run["wall_s"] < best["wall_s"]:
            best = run
    return best


def export_org(binary, users, projects, members, out):
    spec = f"users={users},projects={projects},project_members={members}"
    key = "sk-admin-bench"
    emulator = subprocess.Popen(
        [binary, "emulator", "--generate", spec, "--seed", "1", "--admin-key", key],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = emulator.stdout.readline().strip()
        env = {"OPENAI_BASE_URL": url, "OPENAI_ADMIN_KEY": key, "ORGOPS_NO_PROGRESS": "1",
               "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
        subprocess.run([binary, "export", "--force", "-o", str(out)], env=env, check=True,
                       stderr=subprocess.DEVNULL)
    finally:
        emulator.kill()


def commented(users, comments, out):
    with open(out, "w") as f:
        f.write("# a commented organization\nversion: 1\n\nusers:\n")
        for i in range(users):
            for c in range(comments):
                f.write(f"  # n{c}\n")
            role = "owner" if i == 0 else "reader"
            f.write(f"  - email: u{i:06d}@x.example  # e{i}\n    role: {role}\n")


def bench(binary, path, runs, label):
    validate = timed([binary, "validate", "-f", str(path)], runs)
    fmt = timed([binary, "fmt", "--check", "-f", str(path)], runs)
    print(json.dumps({
        "file": label,
        "mb": round(path.stat().st_size / 1e6, 2),
        "validate": validate,
        "fmt_check": fmt,
        "fmt_over_validate": round(fmt["wall_s"] / validate["wall_s"], 2) if validate["wall_s"] else None,
    }), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/orgops")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--projects", type=int, default=2_500)
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--commented", default="10000x10,20000x40")
    ap.add_argument("--keep", help="write the files here (and reuse an export found there)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep) if args.keep else Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        export = where / f"export-{args.users}.yaml"
        if not export.exists():
            export_org(args.bin, args.users, args.projects, args.members, export)
        bench(args.bin, export, args.runs,
              f"export {args.users} / {args.projects} / {args.members}")
        for spec in filter(None, args.commented.split(",")):
            users, comments = (int(n) for n in spec.split("x"))
            path = where / f"commented-{users}x{comments}.yaml"
            commented(users, comments, path)
            bench(args.bin, path, args.runs, f"{users} users x {comments} comments")


if __name__ == "__main__":
    main()
