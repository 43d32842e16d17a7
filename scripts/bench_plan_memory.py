#!/usr/bin/env python3
"""Peak memory of `orgops plan` against what it prints (issue 21 item 15; BENCHMARKS.md).

Usage: scripts/bench_plan_memory.py [--mb 16] [--bin target/release/orgops] [--formats text,json]
       scripts/bench_plan_memory.py --huge-response [--response-mb 300] [--bin ...]

Default mode: writes a desired-state file of about MB megabytes of users the organization
does not have yet (an all-new plan: one invite per user), starts `orgops emulator` on an
organization of one owner, and runs `orgops plan --format F > file` for each format under
`/usr/bin/time -v`, printing one JSON line per format: the file's size, the users, the
output's size, wall time and peak RSS (and RSS / (file + output)).

`--huge-response`: a local server answers `GET /v1/organization/users` with a valid JSON page
of RESPONSE_MB megabytes (every other list empty), and `orgops plan` runs against it; prints
its exit status, the first error line and its peak RSS.
"""
import argparse
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

KEY = "sk-admin-bench-memory-0000000000"
OWNER = "owner@bench.example"


def timed(cmd, env, stdout):
    """Runs `cmd` under /usr/bin/time -v; returns (exit, wall s, peak RSS bytes, stderr)."""
    started = time.monotonic()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], env=env, stdout=stdout, stderr=subprocess.PIPE, text=True
    )
    wall = time.monotonic() - started
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return proc.returncode, wall, int(rss.group(1)) * 1024 if rss else None, proc.stderr


def desired_file(path, megabytes):
    target = megabytes * 1024 * 1024
    users = 0
    with open(path, "w") as f:
        f.write("version: 1\npolicy:\n  unmanaged:\n    admin_api_keys: ignore\nusers:\n")
        f.write(f"  - email: {OWNER}\n    role: owner\n")
        while f.tell() < target:
            f.write(f"  - email: user{users:07d}@bench.example\n    role: reader\n")
            users += 1
    return users


def plan_memory(args):
    work = Path(tempfile.mkdtemp(prefix="orgops-bench-mem-"))
    live = work / "live.yaml"
    live.write_text(f"version: 1\nusers:\n  - email: {OWNER}\n    role: owner\n")
    desired = work / "orgops.yaml"
    users = desired_file(desired, args.mb)
    emulator = subprocess.Popen(
        [args.bin, "emulator", "--state", str(live), "--admin-key", KEY],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = emulator.stdout.readline().strip()
        env = dict(os.environ, OPENAI_BASE_URL=url, OPENAI_ADMIN_KEY=KEY,
                   ORGOPS_NO_PROGRESS="1", NO_COLOR="1")
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(name, None)
        for fmt in args.formats.split(","):
            out = work / f"plan.{fmt}"
            with open(out, "w") as stdout:
                code, wall, rss, stderr = timed(
                    [args.bin, "plan", "-f", str(desired), "--format", fmt], env, stdout
                )
            file_size = desired.stat().st_size
            out_size = out.stat().st_size
            print(json.dumps({
                "format": fmt, "exit": code, "file_mb": round(file_size / 2**20, 1),
                "users": users, "output_mb": round(out_size / 2**20, 1),
                "wall_s": round(wall, 2), "peak_rss_mb": round(rss / 2**20) if rss else None,
                "rss_over_file_plus_output": round(rss / (file_size + out_size), 1) if rss else None,
            }), flush=True)
            if code != 0:
                print(stderr[-2000:], file=sys.stderr)
            out.unlink()
    finally:
        emulator.kill()
        emulator.wait()


def huge_response(args):
    size = args.response_mb * 1024 * 1024
    head = b'{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false,"padding":"'
    tail = b'"}'
    empty = b'{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}'

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            if self.path.split("?")[0].endswith("/organization/users"):
                self.send_header("content-length", str(len(head) + size + len(tail)))
                self.end_headers()
                try:
                    self.wfile.write(head)
                    chunk = b"x" * (1 << 20)
                    for _ in range(size >> 20):
                        self.wfile.write(chunk)
                    self.wfile.write(tail)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            else:
                self.send_header("content-length", str(len(empty)))
                self.end_headers()
                self.wfile.write(empty)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = Path(tempfile.mkdtemp(prefix="orgops-bench-huge-"))
    desired = work / "orgops.yaml"
    desired.write_text(f"version: 1\nusers:\n  - email: {OWNER}\n    role: owner\n")
    env = dict(os.environ, OPENAI_BASE_URL=f"http://127.0.0.1:{server.server_port}/v1",
               OPENAI_ADMIN_KEY=KEY, ORGOPS_NO_PROGRESS="1", NO_COLOR="1")
    code, wall, rss, stderr = timed([args.bin, "plan", "-f", str(desired)], env, subprocess.DEVNULL)
    error = next((l for l in stderr.splitlines() if l.startswith("error:")), "")
    print(json.dumps({"response_mb": args.response_mb, "exit": code, "wall_s": round(wall, 2),
                      "peak_rss_mb": round(rss / 2**20) if rss else None, "error": error[:300]}))
    server.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/orgops")
    ap.add_argument("--mb", type=int, default=16)
    ap.add_argument("--formats", default="text,json")
    ap.add_argument("--huge-response", action="store_true")
    ap.add_argument("--response-mb", type=int, default=300)
    args = ap.parse_args()
    if args.huge_response:
        huge_response(args)
    else:
        plan_memory(args)


if __name__ == "__main__":
    main()
