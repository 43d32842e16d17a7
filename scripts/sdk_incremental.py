#!/usr/bin/env python3
"""Incremental reads against changes made by someone else's program (issue 24): random
sequences of out-of-band changes made with the official OpenAI Python SDK (`openai==3.63.0`,
.ci/openai-requirements.txt) against the emulator, and after every change the plan read from
a snapshot and the audit log (`plan --snapshot FILE`) must equal the plan of a full read,
byte for byte. At the end of each sequence, a full read compared with the snapshot taken
before it (`--snapshot FIRST --full`) must find nothing the audit log did not name.

The Rust property test (tests/it/incremental.rs) makes its changes with orgops's own idea of
the API's requests; this one with the SDK's, which is not ours: its request shapes, its
defaults, its endpoints (service-account role changes, role permission updates, project
roles, project groups' roles, invites accepted into projects).

Usage: scripts/sdk_incremental.py [--bin target/debug/orgops] [--sequences N] [--length L]
       [--seed S]
Exit 0 when every comparison held; the summary says how many sequences, changes and
comparisons, and each change type's count.
"""
import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections import Counter
from pathlib import Path

import openai

KEY = "sk-admin-sdk-incremental"

# The organization every sequence starts from, shared with tests/it/incremental.rs.
STATE = Path(__file__).resolve().parent.parent / "tests/fixtures/incremental/live.yaml"


class Skip(Exception):
    """The change has nothing to act on in this organization now."""


def pick(rng, items, what):
    items = list(items)
    if not items:
        raise Skip(f"no {what}")
    return rng.choice(items)


class Changes:
    """One random out-of-band change per call, made with the SDK as another admin would."""

    def __init__(self, org, control, rng):
        self.org, self.control, self.rng, self.n = org, control, rng, 0

    def _people(self):
        # Never the owner orgops acts as (ada): the organization keeps an owner.
        return [u for u in self.org.users.list(limit=100) if u.email != "ada@example.com"]

    def _projects(self):
        # Active, and not the default project (which cannot have members, groups or service
        # accounts).
        return [p for p in self.org.projects.list(limit=100)
                if p.status == "active" and p.name != "Default project"]

    def _groups(self):
        return list(self.org.groups.list(limit=100))

    def _custom_roles(self):
        return [r for r in self.org.roles.list(limit=100) if not r.predefined_role]

    def _custom_project_roles(self, pid):
        return [r for r in self.org.projects.roles.list(pid, limit=100) if not r.predefined_role]

    def _name(self, stem):
        self.n += 1
        return f"{stem}-{self.n}"

    # Each method is one change type; its name is what the summary counts.
    def user_role(self):
        u = pick(self.rng, self._people(), "people")
        self.org.users.update(u.id, role=self.rng.choice(["owner", "reader"]))

    def remove_user(self):
        u = pick(self.rng, self._people(), "people")
        self.org.users.delete(u.id)

    def add_project_member(self):
        p = pick(self.rng, self._projects(), "projects")
        members = {m.id for m in self.org.projects.users.list(p.id, limit=100)}
        u = pick(self.rng, [u for u in self._people() if u.id not in members], "non-members")
        self.org.projects.users.create(p.id, user_id=u.id, role=self.rng.choice(["member", "owner"]))

    def _project_members(self):
        return [(p, m) for p in self._projects() for m in self.org.projects.users.list(p.id, limit=100)]

    def project_member_role(self):
        p, m = pick(self.rng, self._project_members(), "project members")
        self.org.projects.users.update(m.id, project_id=p.id,
                                       role=self.rng.choice(["member", "owner"]))

    def remove_project_member(self):
        p, m = pick(self.rng, self._project_members(), "project members")
        self.org.projects.users.delete(m.id, project_id=p.id)

    def create_group(self):
        self.org.groups.create(name=self._name("team"))

    def rename_group(self):
        g = pick(self.rng, self._groups(), "groups")
        self.org.groups.update(g.id, name=self._name(g.name))

    def delete_group(self):
        g = pick(self.rng, self._groups(), "groups")
        self.org.groups.delete(g.id)

    def add_group_member(self):
        g = pick(self.rng, self._groups(), "groups")
        inside = {u.id for u in self.org.groups.users.list(g.id)}
        u = pick(self.rng, [u for u in self._people() if u.id not in inside], "non-members")
        self.org.groups.users.create(g.id, user_id=u.id)

    def remove_group_member(self):
        g = pick(self.rng, self._groups(), "groups")
        u = pick(self.rng, self.org.groups.users.list(g.id), "group members")
        self.org.groups.users.delete(u.id, group_id=g.id)

    def assign_user_role(self):
        u = pick(self.rng, self._people(), "people")
        held = {r.id for r in self.org.users.roles.list(u.id)}
        r = pick(self.rng, [r for r in self._custom_roles() if r.id not in held], "roles")
        self.org.users.roles.create(u.id, role_id=r.id)

    def unassign_user_role(self):
        u, r = pick(self.rng, [(u, r) for u in self._people() for r in self.org.users.roles.list(u.id)],
                    "assignments")
        self.org.users.roles.delete(r.id, user_id=u.id)

    def assign_group_role(self):
        g = pick(self.rng, self._groups(), "groups")
        held = {r.id for r in self.org.groups.roles.list(g.id)}
        r = pick(self.rng, [r for r in self._custom_roles() if r.id not in held], "roles")
        self.org.groups.roles.create(g.id, role_id=r.id)

    def create_role(self):
        self.org.roles.create(role_name=self._name("reviewer"),
                              permissions=["api.organization.usage.read"])

    def update_role_permissions(self):
        r = pick(self.rng, self._custom_roles(), "roles")
        self.org.roles.update(r.id, permissions=self.rng.choice(
            [["api.organization.costs.read"],
             ["api.organization.usage.read", "api.organization.costs.read"]]))

    def delete_role(self):
        r = pick(self.rng, self._custom_roles(), "roles")
        self.org.roles.delete(r.id)

    def create_project(self):
        self.org.projects.create(name=self._name("Project"))

    def rename_project(self):
        p = pick(self.rng, self._projects(), "projects")
        self.org.projects.update(p.id, name=self._name(p.name))

    def archive_project(self):
        p = pick(self.rng, self._projects(), "projects")
        self.org.projects.archive(p.id)

    def create_service_account(self):
        p = pick(self.rng, self._projects(), "projects")
        self.org.projects.service_accounts.create(p.id, name=self._name("bot"))

    def _service_accounts(self):
        return [(p, a) for p in self._projects() for a in self.org.projects.service_accounts.list(p.id)]

    def service_account_role(self):
        p, a = pick(self.rng, self._service_accounts(), "service accounts")
        self.org.projects.service_accounts.update(a.id, project_id=p.id,
                                                  role=self.rng.choice(["member", "owner"]))

    def delete_service_account(self):
        p, a = pick(self.rng, self._service_accounts(), "service accounts")
        self.org.projects.service_accounts.delete(a.id, project_id=p.id)

    def org_retention(self):
        self.org.data_retention.update(retention_type=self.rng.choice(
            ["zero_data_retention", "modified_abuse_monitoring"]))

    def project_retention(self):
        p = pick(self.rng, self._projects(), "projects")
        self.org.projects.data_retention.update(p.id, retention_type=self.rng.choice(
            ["organization_default", "none", "zero_data_retention"]))

    def create_project_role(self):
        p = pick(self.rng, self._projects(), "projects")
        self.org.projects.roles.create(p.id, role_name=self._name("tuner"),
                                       permissions=["api.fine_tuning.jobs.write"])

    def update_project_role(self):
        p, r = pick(self.rng, [(p, r) for p in self._projects() for r in self._custom_project_roles(p.id)],
                    "project roles")
        self.org.projects.roles.update(r.id, project_id=p.id, permissions=self.rng.choice(
            [["api.batch.write"], ["api.batch.write", "api.fine_tuning.jobs.write"]]))

    def assign_project_member_role(self):
        p, m, r = pick(self.rng, [
            (p, m, r) for p, m in self._project_members()
            for r in self._custom_project_roles(p.id)
            if r.id not in {h.id for h in self.org.projects.users.roles.list(m.id, project_id=p.id)}
        ], "project roles to assign")
        self.org.projects.users.roles.create(m.id, project_id=p.id, role_id=r.id)

    def add_project_group(self):
        p = pick(self.rng, self._projects(), "projects")
        inside = {g.group_id for g in self.org.projects.groups.list(p.id)}
        g = pick(self.rng, [g for g in self._groups() if g.id not in inside], "groups")
        granted = pick(self.rng, [r for r in self.org.projects.roles.list(p.id, limit=100)
                                  if r.predefined_role], "predefined project roles")
        self.org.projects.groups.create(p.id, group_id=g.id, role=granted.id)

    def _project_groups(self):
        return [(p, g) for p in self._projects() for g in self.org.projects.groups.list(p.id)]

    def assign_project_group_role(self):
        p, g, r = pick(self.rng, [
            (p, g, r) for p, g in self._project_groups()
            for r in self._custom_project_roles(p.id)
            if r.id not in {h.id for h in
                            self.org.projects.groups.roles.list(g.group_id, project_id=p.id)}
        ], "project roles to assign")
        self.org.projects.groups.roles.create(g.group_id, project_id=p.id, role_id=r.id)

    def remove_project_group(self):
        p, g = pick(self.rng, self._project_groups(), "project groups")
        self.org.projects.groups.delete(g.group_id, project_id=p.id)

    def invite_accepted_into_a_project(self):
        p = pick(self.rng, self._projects(), "projects")
        email = f"{self._name('new')}@example.com"
        self.org.invites.create(email=email, role="reader",
                                projects=[{"id": p.id, "role": "member"}])
        self.control("invites/accept", {"email": email})

    # Every public method is a change type (helpers start with `_`).
    TYPES = [name for name in dir() if not name.startswith("_")]


def http(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/debug/orgops")
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--length", type=int, default=6)
    ap.add_argument("--seed", type=int, default=24)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    counts, skipped, comparisons, failures = Counter(), Counter(), 0, []

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        state = STATE
        for sequence in range(args.sequences):
            emulator = subprocess.Popen(
                [args.bin, "emulator", "--state", str(state), "--admin-key", KEY],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                url = emulator.stdout.readline().strip()
                base = url.removesuffix("/v1")
                env = {"OPENAI_BASE_URL": url, "OPENAI_ADMIN_KEY": KEY, "ORGOPS_NO_PROGRESS": "1",
                       "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
                org = openai.OpenAI(admin_api_key=KEY, base_url=url).admin.organization
                changes = Changes(org, lambda path, body: http(f"{base}/_emulator/{path}", body), rng)

                def orgops(*extra):
                    done = subprocess.run([args.bin, "plan", "--format", "json", "-f", str(desired),
                                           *extra], env=env, capture_output=True, text=True)
                    if done.returncode not in (0, 3):
                        raise SystemExit(f"sdk incremental: orgops plan {' '.join(extra)} "
                                         f"exited {done.returncode}:\n{done.stderr}")
                    return done.stdout, done.stderr

                # The whole organization as the desired state (so every list is read), the
                # settings only reported (the file then declares them as they are).
                desired = tmp / f"org-{sequence}.yaml"
                subprocess.run([args.bin, "export", "-o", str(desired)], env=env, check=True,
                               capture_output=True)
                text = desired.read_text().replace(
                    "policy:\n  unmanaged:\n", "policy:\n  unmanaged:\n    settings: report\n", 1)
                desired.write_text(text)
                # One audited write: a snapshot of an empty audit log has no position.
                bob = next(u for u in org.users.list(limit=100) if u.email == "bob@example.com")
                org.users.update(bob.id, role="reader")
                snapshot, first = tmp / f"s-{sequence}.json", tmp / f"first-{sequence}.json"
                _, said = orgops("--snapshot", str(snapshot))
                assert "note: full read: no snapshot" in said, said
                shutil.copy(snapshot, first)

                made = []
                for _ in range(args.length):
                    kind = rng.choice(Changes.TYPES)
                    try:
                        getattr(changes, kind)()
                    except Skip:
                        skipped[kind] += 1
                        continue
                    counts[kind] += 1
                    made.append(kind)
                    incremental, said = orgops("--snapshot", str(snapshot))
                    if "note: incremental read" not in said:
                        failures.append(f"sequence {sequence}, after {made}: not incremental: {said}")
                    full, _ = orgops()
                    comparisons += 1
                    if incremental != full:
                        failures.append(f"sequence {sequence}, after {made}: the incremental "
                                        f"plan differs from the full read's:\n{incremental}\n"
                                        f"---\n{full}")
                _, said = orgops("--snapshot", str(first), "--full")
                comparisons += 1
                if "warning: the full read found" in said:
                    failures.append(f"sequence {sequence}, after {made}: a full read disagreed "
                                    f"with the first snapshot without a change the log missed: {said}")
            finally:
                emulator.kill()

    total = sum(counts.values())
    print(f"sdk incremental: {args.sequences} sequences, {total} changes made with the SDK "
          f"({len(counts)} of {len(Changes.TYPES)} change types), {comparisons} comparisons, "
          f"{len(failures)} failed")
    for kind in sorted(Changes.TYPES):
        print(f"  {kind}: {counts[kind]} made" + (f", {skipped[kind]} skipped (nothing to act on)"
                                                 if skipped[kind] else ""))
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
