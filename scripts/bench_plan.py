#!/usr/bin/env python3
"""Benchmark `orgops plan` against a generated emulator org (see BENCHMARKS.md).

Usage: scripts/bench_plan.py USERS PROJECTS MEMBERS_PER_PROJECT [--latency-ms N]
       [--rate-limit-rpm N] [--concurrency N] [--settings] [--time-export]
       [--bin target/release/orgops]
       scripts/bench_plan.py --suite [--latency-ms N] [--concurrency N] [--bin ...]

`--time-export` runs the export under the same faults and reports its wall time (`export_s`);
without it the export runs at full speed and only its requests are counted. Both the export's
and the plan's busiest route are reported (`export_longest_route`, `plan_longest_route`): the
API rate-limits each route on its own, so against it that sets how long each takes.

`--settings` manages every settings kind everywhere (`policy.unmanaged.settings: report`
added to the export): the organization's data retention and spend limit, and each project's
data retention, spend limit, model and hosted-tool permissions, one GET each.

Starts `orgops emulator --generate ...`, exports the org as the desired state (so the plan
reads every collection and plans nothing), counting the export's requests against the
plan's minimum, then sets the faults and times one `plan`: requests made against the
minimum the page sizes imply, wall time against the critical-path bound at the client's
concurrency, the load (file read + schema + semantic checks), read, diff and render times
(from the `RUST_LOG=orgops=info` timings), CPU time (user + system) and peak memory
(`/usr/bin/time -v`). `--suite` does this for 1,000 / 50 / 10, 10,000 / 500 / 100 and
50,000 / 2,500 / 100 (users / projects / members per project), one JSON line each.
"""
import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def control(base, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{base}/_emulator/{path}", data=data, method="GET" if body is None else "POST")
    if body is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def pages(n, size):
    return max(1, math.ceil(n / size))


SUITE = [(1_000, 50, 10), (10_000, 500, 100), (50_000, 2_500, 100)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("users", type=int, nargs="?")
    ap.add_argument("projects", type=int, nargs="?")
    ap.add_argument("members", type=int, nargs="?")
    ap.add_argument("--suite", action="store_true")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--rate-limit-rpm", type=int)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--settings", action="store_true")
    ap.add_argument("--time-export", action="store_true",
                    help="run the export under the same faults (latency, rate limit) and time it")
    ap.add_argument("--bin", default="target/release/orgops")
    args = ap.parse_args()
    if args.suite:
        status = 0
        for users, projects, members in SUITE:
            args.users, args.projects, args.members = users, projects, members
            status |= bench(args)
        return status
    if args.members is None:
        ap.error("USERS PROJECTS MEMBERS, or --suite")
    return bench(args)


def bench(args):
    spec = f"users={args.users},projects={args.projects},project_members={args.members}"
    key = "sk-admin-bench"
    emulator = subprocess.Popen(
        [args.bin, "emulator", "--generate", spec, "--seed", "1", "--admin-key", key],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = emulator.stdout.readline().strip()
        base = url.removesuffix("/v1")
        env = {"OPENAI_BASE_URL": url, "OPENAI_ADMIN_KEY": key, "ORGOPS_NO_PROGRESS": "1",
               "RUST_LOG": "orgops=info", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
        with tempfile.TemporaryDirectory() as tmp:
            desired = Path(tmp) / "orgops.yaml"
            faults = {"latency_ms": args.latency_ms, "rate_limit_rpm": args.rate_limit_rpm,
                      "retry_after": False, "fault_rate": 0.0}
            if args.time_export:
                control(base, "faults", faults)
            control(base, "stats/reset", {})
            started = time.monotonic()
            subprocess.run([args.bin, "export", "-o", str(desired)], env=env, check=True,
                           stderr=subprocess.DEVNULL)
            export_s = time.monotonic() - started if args.time_export else None
            export_stats = control(base, "stats")
            export_requests = export_stats["total"]
            # The API rate-limits each route on its own, so the time an export or a plan takes
            # against it is set by its busiest route, not by its total.
            export_longest_route = max(export_stats["by_route"].values())
            file_mb = desired.stat().st_size / 1e6
            # Projects whose export writes rate limits (only where they differ from the
            # common value, docs/plan.md "Export"): the plan reads rate limits only there.
            rate_limited = sum(1 for line in desired.read_text().splitlines()
                               if line.strip() == "rate_limits:")
            if args.settings:
                text = desired.read_text()
                assert "\npolicy:" not in text, "the export wrote a policy block"
                desired.write_text(text + "policy:\n  unmanaged:\n    settings: report\n")
            control(base, "faults", faults)
            control(base, "stats/reset", {})
            started = time.monotonic()
            run = subprocess.run(
                ["/usr/bin/time", "-v", args.bin, "plan", "-f", str(desired),
                 "--concurrency", str(args.concurrency), "--detailed-exitcode"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall = time.monotonic() - started
            stats = control(base, "stats")
    finally:
        emulator.kill()

    err = run.stderr

    def num(pattern):
        found = re.search(pattern, err)
        return float(found.group(1)) if found else float("nan")

    if run.returncode not in (0, 2):
        print(json.dumps({"org": spec, "exit": run.returncode,
                          "export_requests": export_requests,
                          "error": err.strip().splitlines()[-3:]}))
        return 1
    rss_kb = num(r"Maximum resident set size \(kbytes\): (\d+)")
    cpu_s = num(r"User time \(seconds\): ([\d.]+)") + num(r"System time \(seconds\): ([\d.]+)")
    load_ms = num(r"load_ms=([\d.]+)")
    read_ms = num(r"read_ms=([\d.]+)")
    diff_ms = num(r"diff_ms=([\d.]+)")
    render_ms = num(r"render_ms=([\d.]+)")
    # The minimum requests the page sizes imply for this org. The export writes every list it
    # read (docs/configuration.md, "What a file manages"), so the plan reads each project's
    # members, groups, service accounts and custom roles, and the organization's
    # groups and certificates (empty in a generated org, one request each; the organization's
    # custom roles are written only when some exist); it
    # leaves out role-assignment lists (no custom roles) and project certificate activations
    # (no certificates). Projects: the generated ones plus the default project.
    projects = args.projects + 1
    minimum = (pages(args.users, 100) + 1 + pages(projects, 100) + 1  # users, invites, projects, admin keys
               + 2                                                    # groups, certificates
               + args.projects * pages(args.members, 100) + 1        # project users (default: empty)
               + 3 * projects                                         # project groups, service accounts, roles
               + rate_limited                                         # rate limits, where written
               + 1)                                                   # org data retention (always exported)
    # Export reads the plan's lists plus what it needs to decide what to leave out: the org
    # roles list (no custom roles: no per-principal role lists), the org's spend limit and
    # alerts, and per project its rate limits, API keys, spend alerts and four settings.
    export_minimum = minimum - rate_limited + 3 + 7 * projects
    if args.settings:
        minimum += 1 + 4 * projects   # org spend limit; per project 4 settings singletons
    total = stats["total"]
    plan_longest_route = max(stats["by_route"].values())
    lat = args.latency_ms / 1000
    chain = max(pages(args.users, 100), pages(projects, 100) + pages(args.members, 100))
    bound = lat * max(chain, math.ceil(minimum / args.concurrency))
    if args.rate_limit_rpm:
        # The emulator's bucket per route starts full (rpm tokens) and refills rpm per
        # minute: a route that needs n requests cannot finish before (n - rpm) * 60 / rpm s.
        routes = [pages(args.users, 100), 1, pages(projects, 100), 1, 1, 1,
                  args.projects * pages(args.members, 100) + 1,
                  projects, projects, projects, projects, 1]
        if args.settings:
            routes += [1, projects, projects, projects, projects]
        bound = max(bound, max(max(0, n - args.rate_limit_rpm) * 60 / args.rate_limit_rpm
                               for n in routes))
    result = {
        "org": spec, "latency_ms": args.latency_ms, "rate_limit_rpm": args.rate_limit_rpm,
        "concurrency": args.concurrency, "exit": run.returncode,
        "requests": total, "minimum_requests": minimum,
        "wall_s": round(wall, 2), "bound_s": round(bound, 2),
        "wall_over_bound": round(wall / bound, 2) if bound else None,
        "read_s": round(read_ms / 1000, 2),
        "read_over_bound": round(read_ms / 1000 / bound, 2) if bound else None,
        "file_mb": round(file_mb, 1), "load_ms": round(load_ms, 1),
        "load_mb_per_s": round(file_mb / (load_ms / 1000), 1) if load_ms else None,
        # An org without custom roles: export reads what its plan reads plus the org's
        # roles list (docs/plan.md, "Export").
        "export_requests": export_requests,
        "export_minimum": export_minimum,
        "export_over_minimum": round(export_requests / export_minimum, 3),
        "export_over_plan_minimum": round(export_requests / minimum, 3),
        "export_s": None if export_s is None else round(export_s, 2),
        "export_longest_route": export_longest_route,
        "plan_longest_route": plan_longest_route,
        "export_over_plan_longest_route": round(export_longest_route / plan_longest_route, 3),
        "cpu_s": round(cpu_s, 2),
        "diff_ms": round(diff_ms, 1), "render_ms": round(render_ms, 1),
        "peak_rss_mb": round(rss_kb / 1024, 1),
    }
    print(json.dumps(result))
    return 0 if run.returncode in (0, 2) else 1


if __name__ == "__main__":
    sys.exit(main())
