#!/usr/bin/env python3
"""Drive the emulator with the official OpenAI Python SDK, as a program written for the real
Admin API would, and fail loudly on any difference it notices.

Needs `openai==3.63.0` (.ci/openai-requirements.txt) and an emulator seeded from examples/quickstart/live.yaml:
    orgops emulator --state examples/quickstart/live.yaml --admin-key sk-admin-test
    OPENAI_BASE_URL=<printed URL> OPENAI_ADMIN_KEY=sk-admin-test scripts/sdk_smoke.py
The SDK's own models decode every response (strict pydantic parsing of the documented
shapes), its auto-pagination follows every cursor style, and its exceptions map statuses.
"""
import sys

import openai


def main() -> int:
    client = openai.OpenAI()  # OPENAI_ADMIN_KEY and OPENAI_BASE_URL from the environment
    org = client.admin.organization
    checks = 0

    def check(condition, what):
        nonlocal checks
        checks += 1
        if not condition:
            raise SystemExit(f"sdk smoke: FAILED: {what}")

    # Style A pagination (last_id cursor), one item per page.
    emails = sorted(u.email for u in org.users.list(limit=1))
    check(emails == sorted(["root@acme.example", "alice@acme.example", "bob@acme.example",
                            "eve@acme.example"]), f"users across pages: {emails}")
    check([u.email for u in org.users.list(emails=["bob@acme.example"])] == ["bob@acme.example"],
          "emails filter")
    invites = {i.email: i.status for i in org.invites.list(limit=1)}
    check(invites == {"dave@acme.example": "expired", "frank@acme.example": "pending"},
          f"invites: {invites}")

    projects = {p.name: p for p in org.projects.list(limit=2, include_archived=True)}
    check({"Production", "Legacy Chatbot", "Marketing Experiments"} <= set(projects),
          f"projects: {sorted(projects)}")
    created = org.projects.create(name="SDK Smoke")
    check(created.status == "active", "created project is active")
    prod = projects["Production"].id
    members = {m.email: m.role for m in org.projects.users.list(prod, limit=1)}
    check(members.get("bob@acme.example") == "member", f"project members: {members}")
    added = org.projects.users.create(created.id, role="member", email="bob@acme.example")
    check(added.role == "member", "project user added")

    account = org.projects.service_accounts.create(created.id, name="sdk-bot")
    check(account.api_key is not None and account.api_key.value, "one-time service-account key")
    keyless = org.projects.service_accounts.create(created.id, name="keyless",
                                                   create_service_account_only=True)
    check(keyless.api_key is None and keyless.role == "none", "create_service_account_only")

    limits = {r.model: r for r in org.projects.rate_limits.list_rate_limits(prod)}
    gpt = limits["gpt-4o"]
    updated = org.projects.rate_limits.update_rate_limit(gpt.id, project_id=prod,
                                                         max_requests_per_1_minute=123)
    check(updated.max_requests_per_1_minute == 123, "rate limit updated")

    # Style B pagination (opaque `next`).
    groups = [g.name for g in org.groups.list(limit=1)]
    check(groups == ["platform"], f"groups: {groups}")
    group = org.groups.create(name="sdk-group")
    org.groups.users.create(group.id, user_id=org.users.list(emails=["eve@acme.example"]).data[0].id)
    check([u.email for u in org.groups.users.list(group.id)] == ["eve@acme.example"],
          "group members")
    roles = [r.name for r in org.roles.list(limit=1)]
    check("billing-viewer" in roles, f"roles: {roles}")

    certificates = list(org.certificates.list())
    check([c.name for c in certificates] == ["acme-mtls"], "certificates")
    activation = org.certificates.activate(certificate_ids=[certificates[0].id])
    check(all(c.active for c in activation), "certificate activated")

    key = org.admin_api_keys.create(name="sdk-key")
    check(key.value and key.value.startswith("sk-admin"), "admin key value returned once")
    check(all(getattr(k, "value", None) is None for k in org.admin_api_keys.list()),
          "admin key values never listed")

    events = [e.type for e in org.audit_logs.list(event_types=["project.created"])]
    check("project.created" in events, f"audit log: {events}")

    try:
        org.projects.retrieve("proj_does_not_exist")
        check(False, "unknown project must be a 404")
    except openai.NotFoundError as error:
        check(error.status_code == 404, "NotFoundError")

    bad = openai.OpenAI(admin_api_key="sk-admin-wrong")
    try:
        bad.admin.organization.users.list()
        check(False, "unknown key must be a 401")
    except openai.AuthenticationError:
        check(True, "AuthenticationError")

    print(f"sdk smoke: {checks} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
