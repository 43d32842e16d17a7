#!/usr/bin/env python3
"""Benchmark incremental reads (`--snapshot`, docs/plan.md) against the full read, side by side
in one run (see BENCHMARKS.md).

Usage: scripts/bench_incremental.py [USERS PROJECTS MEMBERS_PER_PROJECT] [--latency-ms N]
       [--changes N] [--bin target/release/orgops]

Starts `orgops emulator --generate ...` (default 10,000 users, 500 projects, 100 members per
project), creates one custom organization role and assigns it to one person (so role
assignments are readable only per principal and the export manages them for everyone),
exports the org as the desired state at full speed, then sets the latency and runs, for
`plan` and for `drift`, each with its own snapshot file:

1. `--snapshot FILE --full`: the full read (and the first snapshot);
2. `--snapshot FILE` with nothing changed since;
3. `--snapshot FILE` after N out-of-band changes over /v1 (default 10: people's organization
   roles, project members' roles, role assignments, group renames, project settings).

Each row: requests (the emulator's own count, `/_emulator/stats`), wall time, and the line
orgops printed about its read. One JSON line per run, then a markdown table.
"""
import argparse
import json
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def http(url, method="GET", body=None, key=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if key:
        req.add_header("authorization", f"Bearer {key}")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("users", type=int, nargs="?", default=10_000)
    ap.add_argument("projects", type=int, nargs="?", default=500)
    ap.add_argument("members", type=int, nargs="?", default=100)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--bin", default="target/release/orgops")
    args = ap.parse_args()

    spec = f"users={args.users},projects={args.projects},project_members={args.members}"
    key = "sk-admin-bench"
    emulator = subprocess.Popen(
        [args.bin, "emulator", "--generate", spec, "--seed", "1", "--admin-key", key],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rows = []
    try:
        url = emulator.stdout.readline().strip()
        base = url.removesuffix("/v1")
        api = lambda path, method="GET", body=None: http(url + path, method, body, key)
        control = lambda path, body=None: http(f"{base}/_emulator/{path}",
                                               "GET" if body is None else "POST", body)
        env = {"OPENAI_BASE_URL": url, "OPENAI_ADMIN_KEY": key, "ORGOPS_NO_PROGRESS": "1",
               "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}

        role = api("/organization/roles", "POST",
                   {"role_name": "auditor", "permissions": ["api.organization.costs.read"]})
        users = api("/organization/users?limit=100")["data"]
        api(f"/organization/users/{users[1]['id']}/roles", "POST", {"role_id": role["id"]})

        with tempfile.TemporaryDirectory() as tmp:
            desired = Path(tmp) / "orgops.yaml"
            subprocess.run([args.bin, "export", "-o", str(desired)], env=env, check=True,
                           stderr=subprocess.DEVNULL)
            snapshots = {"plan": Path(tmp) / "plan.snapshot", "drift": Path(tmp) / "drift.snapshot"}

            def run(command, case, extra):
                control("faults", {"latency_ms": args.latency_ms, "rate_limit_rpm": None,
                                   "retry_after": False, "fault_rate": 0.0})
                control("stats/reset", {})
                started = time.monotonic()
                done = subprocess.run(
                    [args.bin, command, "-f", str(desired), "--snapshot", str(snapshots[command])]
                    + extra, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                wall = time.monotonic() - started
                stats = control("stats")
                control("faults", {"latency_ms": 0})
                note = next((l for l in done.stderr.splitlines()
                             if l.startswith("note: full read") or l.startswith("note: incremental")),
                            "")
                row = {"org": spec, "latency_ms": args.latency_ms, "command": command, "case": case,
                       "exit": done.returncode, "requests": stats["total"], "wall_s": round(wall, 2),
                       "read": note.removeprefix("note: ")}
                if done.returncode not in (0, 2):
                    row["error"] = done.stderr.strip().splitlines()[-3:]
                print(json.dumps(row), flush=True)
                rows.append(row)

            for command in ("plan", "drift"):
                run(command, "full read", ["--full"])
            for command in ("plan", "drift"):
                run(command, "nothing changed", [])
            change(api, args.changes)
            for command in ("plan", "drift"):
                run(command, f"{args.changes} objects changed", [])
    finally:
        emulator.kill()

    print()
    print(f"| command | case | requests | wall (s) | what orgops said |")
    print(f"| --- | --- | ---: | ---: | --- |")
    for r in rows:
        print(f"| `{r['command']}` | {r['case']} | {r['requests']:,} | {r['wall_s']} | {r['read']} |")
    return 0 if all(r["exit"] in (0, 2) for r in rows) else 1


def change(api, n):
    """N out-of-band changes of different kinds, made as another admin would."""
    users = api("/organization/users?limit=100")["data"][2:]
    projects = [p for p in api("/organization/projects?limit=100")["data"] if p["status"] == "active"]
    groups = api("/organization/groups?limit=100")["data"]
    roles = [r for r in api("/organization/roles?limit=100")["data"] if not r["predefined_role"]]
    made = 0
    i = 0
    while made < n:
        kind = i % 5
        i += 1
        if kind == 0:
            api(f"/organization/users/{users[i]['id']}", "POST", {"role": "owner"})
        elif kind == 1:
            p = projects[i % len(projects)]
            members = api(f"/organization/projects/{p['id']}/users?limit=100")["data"]
            if not members:
                continue
            m = members[0]
            role = "owner" if m["role"] == "member" else "member"
            api(f"/organization/projects/{p['id']}/users/{m['id']}", "POST", {"role": role})
        elif kind == 2:
            api(f"/organization/users/{users[i + 50]['id']}/roles", "POST", {"role_id": roles[0]["id"]})
        elif kind == 3:
            if not groups:
                api("/organization/groups", "POST", {"name": f"bench-{i}"})
            else:
                g = groups[i % len(groups)]
                api(f"/organization/groups/{g['id']}", "POST", {"name": f"{g['name']}-{i}"})
        else:
            p = projects[(i * 7) % len(projects)]
            api(f"/organization/projects/{p['id']}/data_retention", "POST",
                {"retention_type": "zero_data_retention"})
        made += 1


if __name__ == "__main__":
    raise SystemExit(main())
