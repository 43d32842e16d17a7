#!/usr/bin/env python3
"""Call every admin operation of the official OpenAI Python SDK against the emulator.

Needs `openai==3.63.0` (.ci/openai-requirements.txt) and an emulator seeded from
examples/quickstart/live.yaml (scripts/sdk_smoke.py may have run against it first):
    orgops emulator --state examples/quickstart/live.yaml --admin-key sk-admin-test
    OPENAI_BASE_URL=<printed URL> OPENAI_ADMIN_KEY=sk-admin-test scripts/sdk_operations.py

The operations are discovered from the SDK itself (every public method of every resource under
`client.admin.organization`: 155 in 3.63.0), so an SDK with more operations fails here until
each has a call below. Each is called with realistic arguments, in an order that gives the
later calls real ids (create, read, update, delete), and every object answered is re-validated
with the SDK's own pydantic model (`Model.model_validate`: the SDK itself only constructs its
models without validation).

The 119 operations the OpenAPI subset (shared/openapi/openai-admin.openapi.yaml) describes
must all work. The other 36 (`SDK_ONLY`) must work when the emulator implements them; an
operation the emulator has no route for ("Invalid URL", 404) is reported as not implemented
in a table. Exit status 1: a spec operation failed, or an implemented SDK-only one did.
"""
import sys
import time
import traceback

import openai
import pydantic
from openai._resource import SyncAPIResource

EXPECTED_OPERATIONS = 155

# The operations of openai 3.63.0 that the OpenAPI subset does not describe (36).
SDK_ONLY = {
    "external_keys.create", "external_keys.delete", "external_keys.list",
    "external_keys.retrieve", "external_keys.validate",
    "external_storage.create", "external_storage.delete", "external_storage.list",
    "external_storage.retrieve", "external_storage.validate",
    "health.alert_rules.create", "health.alert_rules.delete", "health.alert_rules.list",
    "health.alert_rules.retrieve", "health.alert_rules.update", "health.alerts.retrieve",
    "projects.health.alert_rules.create", "projects.health.alert_rules.delete",
    "projects.health.alert_rules.list", "projects.health.alert_rules.retrieve",
    "projects.health.alert_rules.update", "projects.health.alerts.retrieve",
    "projects.api_keys.update",
    "projects.service_tier_settings.retrieve", "projects.service_tier_settings.update",
    "usage.decisions",
    "workload_identity_providers.create", "workload_identity_providers.delete",
    "workload_identity_providers.list", "workload_identity_providers.retrieve",
    "workload_identity_providers.update",
    "workload_identity_providers.federation_rules.create",
    "workload_identity_providers.federation_rules.delete",
    "workload_identity_providers.federation_rules.list",
    "workload_identity_providers.federation_rules.retrieve",
    "workload_identity_providers.federation_rules.update",
}

PEM = ("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUc2RrLW9wZXJhdGlvbnMtc21va2U{}\n"
       "-----END CERTIFICATE-----")
CHANNEL = {"type": "email", "recipients": ["ops@acme.example"], "subject_prefix": "[spend]"}
CAP = {"threshold_amount": 2500, "currency": "USD", "interval": "month"}
CONDITION = {"type": "error_rate", "threshold": 0.05, "window_seconds": 300, "status_class": "5xx"}
NOTIFY = {"email": {"addresses": ["oncall@acme.example"], "enabled": True}}
MISSING = "id_not_created"  # stands in for an id a not-implemented create never gave


def discover(resource, prefix=""):
    """Dotted names of every operation under `resource` (public methods of the SDK's
    resource classes; sub-resources are cached properties returning resources)."""
    found = []
    for name in sorted(dir(type(resource))):
        if name.startswith("_") or name in ("with_raw_response", "with_streaming_response"):
            continue
        attr = getattr(type(resource), name)
        if callable(attr) and not isinstance(attr, type):
            found.append(prefix + name)
            continue
        child = getattr(resource, name, None)
        if isinstance(child, SyncAPIResource):
            found.extend(discover(child, prefix + name + "."))
    return found


class Run:
    def __init__(self):
        self.results = {}  # operation -> "ok" | "not implemented" | failure text

    def call(self, op, fn, absent_ok=False):
        """Calls `fn` (one SDK call of operation `op`), validates what it answered, records
        the outcome, and returns the answer (None when it failed). `absent_ok`: a 404 for
        the object is the right answer (reading an id nothing created)."""
        try:
            answer = fn()
            validate(answer)
        except openai.NotFoundError as error:
            if "Invalid URL" in str(error):
                self.record(op, "not implemented")
            elif absent_ok:
                self.record(op, "ok")
            else:
                self.record(op, f"404: {error}")
            return None
        except (openai.APIError, pydantic.ValidationError, AssertionError) as error:
            self.record(op, f"{type(error).__name__}: {error}")
            return None
        except Exception as error:  # a bug of this script or an SDK parse error: still a failure
            self.record(op, f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
            return None
        self.record(op, "ok")
        return answer

    def record(self, op, outcome):
        # The first failure of an operation is the one reported.
        if self.results.get(op, "ok") == "ok":
            self.results[op] = outcome


def validate(answer):
    """Re-validates an SDK answer (a model, a page of models, or a list) strictly against
    the SDK's model class."""
    items = getattr(answer, "data", None) if hasattr(answer, "has_next_page") else None
    if items is not None:
        for item in items:
            validate(item)
        return
    if isinstance(answer, list):
        for item in answer:
            validate(item)
        return
    if isinstance(answer, pydantic.BaseModel):
        type(answer).model_validate(answer.model_dump(by_alias=True, exclude_unset=True))


def first(page, **match):
    for item in getattr(page, "data", None) or []:
        if all(getattr(item, k, None) == v for k, v in match.items()):
            return item
    return None


def ident(obj):
    return getattr(obj, "id", None) or MISSING


def main() -> int:
    client = openai.OpenAI()  # OPENAI_ADMIN_KEY and OPENAI_BASE_URL from the environment
    org = client.admin.organization
    operations = discover(org)
    run = Run()
    c = run.call
    stamp = str(int(time.time() * 1000) % 10**9)

    # Organization: users, invites, admin keys, audit log, settings.
    users = c("users.list", lambda: org.users.list(limit=100))
    eve = first(users, email="eve@acme.example")
    bob = first(users, email="bob@acme.example")
    c("users.retrieve", lambda: org.users.retrieve(ident(bob)))
    c("users.update", lambda: org.users.update(ident(bob), role="owner"))
    invite = c("invites.create", lambda: org.invites.create(
        email=f"new-{stamp}@acme.example", role="reader"))
    c("invites.list", lambda: org.invites.list(limit=10))
    c("invites.retrieve", lambda: org.invites.retrieve(ident(invite)))
    c("invites.delete", lambda: org.invites.delete(ident(invite)))
    key = c("admin_api_keys.create", lambda: org.admin_api_keys.create(
        name=f"ops-{stamp}", expires_in_seconds=86400))
    c("admin_api_keys.list", lambda: org.admin_api_keys.list(limit=10))
    c("admin_api_keys.retrieve", lambda: org.admin_api_keys.retrieve(ident(key)))
    c("admin_api_keys.delete", lambda: org.admin_api_keys.delete(ident(key)))
    c("audit_logs.list", lambda: org.audit_logs.list(event_types=["project.created"], limit=5))
    c("data_retention.retrieve", lambda: org.data_retention.retrieve())
    c("data_retention.update", lambda: org.data_retention.update(
        retention_type="zero_data_retention"))
    c("spend_limit.update", lambda: org.spend_limit.update(
        threshold_amount=500000, currency="USD", interval="month", notification_channel=CHANNEL))
    limit = c("spend_limit.retrieve", lambda: org.spend_limit.retrieve())
    if limit is not None:
        channel = limit.notification_channel
        run.record("spend_limit.retrieve", "ok" if channel and channel.recipients == ["ops@acme.example"]
                   else f"notification_channel not kept: {channel}")
    c("spend_limit.delete", lambda: org.spend_limit.delete())
    alert = c("spend_alerts.create", lambda: org.spend_alerts.create(
        threshold_amount=100000, currency="USD", interval="month", notification_channel=CHANNEL))
    c("spend_alerts.list", lambda: org.spend_alerts.list(limit=10))
    c("spend_alerts.retrieve", lambda: org.spend_alerts.retrieve(ident(alert)))
    c("spend_alerts.update", lambda: org.spend_alerts.update(
        ident(alert), threshold_amount=120000, currency="USD", interval="month",
        notification_channel=CHANNEL))
    c("spend_alerts.delete", lambda: org.spend_alerts.delete(ident(alert)))

    # Organization roles, groups and their assignments.
    role = c("roles.create", lambda: org.roles.create(
        role_name=f"auditor-{stamp}", permissions=["api.organization.costs.read"],
        description="Reads costs"))
    c("roles.list", lambda: org.roles.list(limit=100))
    c("roles.retrieve", lambda: org.roles.retrieve(ident(role)))
    c("roles.update", lambda: org.roles.update(ident(role), description="Reads costs only"))
    c("users.roles.create", lambda: org.users.roles.create(ident(eve), role_id=ident(role)))
    c("users.roles.list", lambda: org.users.roles.list(ident(eve)))
    c("users.roles.retrieve", lambda: org.users.roles.retrieve(ident(role), user_id=ident(eve)))
    c("users.roles.delete", lambda: org.users.roles.delete(ident(role), user_id=ident(eve)))
    group = c("groups.create", lambda: org.groups.create(name=f"ops-{stamp}"))
    c("groups.list", lambda: org.groups.list(limit=100))
    c("groups.retrieve", lambda: org.groups.retrieve(ident(group)))
    c("groups.update", lambda: org.groups.update(ident(group), name=f"ops-team-{stamp}"))
    c("groups.users.create", lambda: org.groups.users.create(ident(group), user_id=ident(bob)))
    c("groups.users.list", lambda: org.groups.users.list(ident(group)))
    c("groups.users.retrieve", lambda: org.groups.users.retrieve(ident(bob), group_id=ident(group)))
    c("groups.roles.create", lambda: org.groups.roles.create(ident(group), role_id=ident(role)))
    c("groups.roles.list", lambda: org.groups.roles.list(ident(group)))
    c("groups.roles.retrieve", lambda: org.groups.roles.retrieve(ident(role), group_id=ident(group)))

    # Certificates.
    cert = c("certificates.create", lambda: org.certificates.create(
        certificate=PEM.format(stamp), name=f"edge-{stamp}"))
    c("certificates.list", lambda: org.certificates.list(limit=100))
    c("certificates.retrieve", lambda: org.certificates.retrieve(ident(cert), include=["content"]))
    c("certificates.update", lambda: org.certificates.update(ident(cert), name=f"edge-mtls-{stamp}"))
    c("certificates.activate", lambda: list(org.certificates.activate(certificate_ids=[ident(cert)])))
    c("certificates.deactivate",
      lambda: list(org.certificates.deactivate(certificate_ids=[ident(cert)])))

    # A project and everything under it.
    project = c("projects.create", lambda: org.projects.create(
        name=f"Operations {stamp}", residency="JP_STORAGE_PROCESSING"))
    pid = ident(project)
    c("projects.list", lambda: org.projects.list(limit=100, include_archived=True))
    c("projects.retrieve", lambda: org.projects.retrieve(pid))
    c("projects.update", lambda: org.projects.update(pid, name=f"Operations {stamp} (renamed)"))
    c("projects.users.create", lambda: org.projects.users.create(pid, role="member", user_id=ident(eve)))
    c("projects.users.list", lambda: org.projects.users.list(pid))
    c("projects.users.retrieve", lambda: org.projects.users.retrieve(ident(eve), project_id=pid))
    c("projects.users.update", lambda: org.projects.users.update(ident(eve), project_id=pid, role="owner"))
    prole = c("projects.roles.create", lambda: org.projects.roles.create(
        pid, role_name=f"deployer-{stamp}", permissions=["api.batch.write"], description="Batches"))
    proles = c("projects.roles.list", lambda: org.projects.roles.list(pid, limit=100))
    # A predefined project role for the group's grant (the custom one is assigned after).
    granted = next((r.id for r in getattr(proles, "data", []) if r.id != ident(prole)), MISSING)
    c("projects.roles.retrieve", lambda: org.projects.roles.retrieve(ident(prole), project_id=pid))
    c("projects.roles.update", lambda: org.projects.roles.update(
        ident(prole), project_id=pid, description="Batches and fine-tunes"))
    c("projects.users.roles.create", lambda: org.projects.users.roles.create(
        ident(eve), project_id=pid, role_id=ident(prole)))
    c("projects.users.roles.list", lambda: org.projects.users.roles.list(ident(eve), project_id=pid))
    c("projects.users.roles.retrieve", lambda: org.projects.users.roles.retrieve(
        ident(prole), project_id=pid, user_id=ident(eve)))
    c("projects.users.roles.delete", lambda: org.projects.users.roles.delete(
        ident(prole), project_id=pid, user_id=ident(eve)))
    c("projects.groups.create", lambda: org.projects.groups.create(
        pid, group_id=ident(group), role=granted))
    c("projects.groups.list", lambda: org.projects.groups.list(pid))
    c("projects.groups.retrieve", lambda: org.projects.groups.retrieve(
        ident(group), project_id=pid, group_type="group"))
    c("projects.groups.roles.create", lambda: org.projects.groups.roles.create(
        ident(group), project_id=pid, role_id=ident(prole)))
    c("projects.groups.roles.list", lambda: org.projects.groups.roles.list(ident(group), project_id=pid))
    c("projects.groups.roles.retrieve", lambda: org.projects.groups.roles.retrieve(
        ident(prole), project_id=pid, group_id=ident(group)))
    c("projects.groups.roles.delete", lambda: org.projects.groups.roles.delete(
        ident(prole), project_id=pid, group_id=ident(group)))
    c("projects.groups.delete", lambda: org.projects.groups.delete(ident(group), project_id=pid))
    c("projects.roles.delete", lambda: org.projects.roles.delete(ident(prole), project_id=pid))

    account = c("projects.service_accounts.create", lambda: org.projects.service_accounts.create(
        pid, name=f"ci-{stamp}", expires_in_seconds=3600, spend_limit=CAP))
    if account is not None:
        key_limit = account.api_key and account.api_key.spend_limit
        run.record("projects.service_accounts.create",
                   "ok" if account.api_key and account.api_key.expires_at and key_limit
                   and key_limit.threshold_amount == 2500
                   else f"expires_at/spend_limit not answered: {account.api_key}")
    said = ident(account)
    c("projects.service_accounts.list", lambda: org.projects.service_accounts.list(pid))
    c("projects.service_accounts.retrieve", lambda: org.projects.service_accounts.retrieve(
        said, project_id=pid))
    c("projects.service_accounts.update", lambda: org.projects.service_accounts.update(
        said, project_id=pid, name=f"ci-bot-{stamp}"))
    extra = c("projects.service_accounts.api_keys.create",
              lambda: org.projects.service_accounts.api_keys.create(
                  said, project_id=pid, name="second", expires_in_seconds=600, spend_limit=CAP))
    c("projects.api_keys.list", lambda: org.projects.api_keys.list(pid, limit=100))
    c("projects.api_keys.retrieve", lambda: org.projects.api_keys.retrieve(ident(extra), project_id=pid))
    c("projects.api_keys.update", lambda: org.projects.api_keys.update(
        ident(extra), project_id=pid, scopes=["api.all.read"], spend_limit=None))
    c("projects.rate_limits.list_rate_limits",
      lambda: org.projects.rate_limits.list_rate_limits(pid, limit=100))
    c("projects.rate_limits.update_rate_limit", lambda: org.projects.rate_limits.update_rate_limit(
        "rl-gpt-4o", project_id=pid, max_requests_per_1_minute=500))
    c("projects.certificates.activate", lambda: list(org.projects.certificates.activate(
        pid, certificate_ids=[ident(cert)])))
    c("projects.certificates.list", lambda: org.projects.certificates.list(pid))
    c("projects.certificates.deactivate", lambda: list(org.projects.certificates.deactivate(
        pid, certificate_ids=[ident(cert)])))
    c("projects.data_retention.retrieve", lambda: org.projects.data_retention.retrieve(pid))
    c("projects.data_retention.update", lambda: org.projects.data_retention.update(
        pid, retention_type="zero_data_retention"))
    c("projects.model_permissions.update", lambda: org.projects.model_permissions.update(
        pid, mode="allow_list", model_ids=["gpt-4o"]))
    c("projects.model_permissions.retrieve", lambda: org.projects.model_permissions.retrieve(pid))
    c("projects.model_permissions.delete", lambda: org.projects.model_permissions.delete(pid))
    c("projects.hosted_tool_permissions.update",
      lambda: org.projects.hosted_tool_permissions.update(pid, web_search={"enabled": False}))
    c("projects.hosted_tool_permissions.retrieve",
      lambda: org.projects.hosted_tool_permissions.retrieve(pid))
    c("projects.service_tier_settings.update", lambda: org.projects.service_tier_settings.update(
        pid, default="standard", enabled_tiers=["flex"]))
    c("projects.service_tier_settings.retrieve",
      lambda: org.projects.service_tier_settings.retrieve(pid))
    c("projects.spend_limit.update", lambda: org.projects.spend_limit.update(
        pid, threshold_amount=50000, currency="USD", interval="month", notification_channel=CHANNEL))
    c("projects.spend_limit.retrieve", lambda: org.projects.spend_limit.retrieve(pid))
    c("projects.spend_limit.delete", lambda: org.projects.spend_limit.delete(pid))
    palert = c("projects.spend_alerts.create", lambda: org.projects.spend_alerts.create(
        pid, threshold_amount=10000, currency="USD", interval="month", notification_channel=CHANNEL))
    c("projects.spend_alerts.list", lambda: org.projects.spend_alerts.list(pid))
    c("projects.spend_alerts.retrieve", lambda: org.projects.spend_alerts.retrieve(
        ident(palert), project_id=pid))
    c("projects.spend_alerts.update", lambda: org.projects.spend_alerts.update(
        ident(palert), project_id=pid, threshold_amount=20000, currency="USD", interval="month",
        notification_channel=CHANNEL))
    c("projects.spend_alerts.delete", lambda: org.projects.spend_alerts.delete(
        ident(palert), project_id=pid))

    # Health alert rules (organization and project); an alert is only read.
    rule = c("health.alert_rules.create", lambda: org.health.alert_rules.create(
        name=f"errors-{stamp}", condition=CONDITION, notifications=NOTIFY, enabled=True))
    c("health.alert_rules.list", lambda: org.health.alert_rules.list(limit=10))
    c("health.alert_rules.retrieve", lambda: org.health.alert_rules.retrieve(ident(rule)))
    version = getattr(rule, "version", 1)
    updated = c("health.alert_rules.update", lambda: org.health.alert_rules.update(
        ident(rule), expected_version=version, enabled=False))
    c("health.alert_rules.delete", lambda: org.health.alert_rules.delete(
        ident(rule), expected_version=getattr(updated, "version", version)))
    c("health.alerts.retrieve", lambda: org.health.alerts.retrieve("alert_unknown"), absent_ok=True)
    prule = c("projects.health.alert_rules.create", lambda: org.projects.health.alert_rules.create(
        pid, name=f"project-errors-{stamp}", condition=CONDITION, notifications=NOTIFY))
    c("projects.health.alert_rules.list", lambda: org.projects.health.alert_rules.list(pid))
    c("projects.health.alert_rules.retrieve", lambda: org.projects.health.alert_rules.retrieve(
        ident(prule), project_id=pid))
    pversion = getattr(prule, "version", 1)
    pupdated = c("projects.health.alert_rules.update", lambda: org.projects.health.alert_rules.update(
        ident(prule), project_id=pid, expected_version=pversion, name=f"project-5xx-{stamp}"))
    c("projects.health.alert_rules.delete", lambda: org.projects.health.alert_rules.delete(
        ident(prule), project_id=pid, expected_version=getattr(pupdated, "version", pversion)))
    c("projects.health.alerts.retrieve", lambda: org.projects.health.alerts.retrieve(
        "alert_unknown", project_id=pid), absent_ok=True)

    # External keys and storage.
    ekey = c("external_keys.create", lambda: org.external_keys.create(
        type="aws", name=f"kms-{stamp}", kms_arn="arn:aws:kms:us-east-1:123456789012:key/abcd",
        role_arn="arn:aws:iam::123456789012:role/openai-ekm", external_id=f"ext-{stamp}"))
    c("external_keys.list", lambda: org.external_keys.list(limit=10))
    c("external_keys.retrieve", lambda: org.external_keys.retrieve(ident(ekey)))
    c("external_keys.validate", lambda: org.external_keys.validate(ident(ekey)))
    c("external_keys.delete", lambda: org.external_keys.delete(ident(ekey)))
    storage = c("external_storage.create", lambda: org.external_storage.create(
        project_id=pid, provider={"type": "aws", "bucket": f"acme-{stamp}",
                                  "role_arn": "arn:aws:iam::123456789012:role/openai-storage"}))
    c("external_storage.list", lambda: org.external_storage.list(limit=10))
    c("external_storage.retrieve", lambda: org.external_storage.retrieve(ident(storage)))
    c("external_storage.validate", lambda: org.external_storage.validate(ident(storage)))
    c("external_storage.delete", lambda: org.external_storage.delete(ident(storage)))

    # Workload identity: a provider, a rule binding a token to the service account.
    provider = c("workload_identity_providers.create", lambda: org.workload_identity_providers.create(
        name=f"github-{stamp}", type="oidc", issuer="https://token.actions.githubusercontent.com",
        audience="https://github.com/acme", verification={"type": "discovery", "discovery_url": None}))
    wid = ident(provider)
    c("workload_identity_providers.list", lambda: org.workload_identity_providers.list(limit=10))
    c("workload_identity_providers.retrieve", lambda: org.workload_identity_providers.retrieve(wid))
    c("workload_identity_providers.update", lambda: org.workload_identity_providers.update(
        wid, description="GitHub Actions"))
    frule = c("workload_identity_providers.federation_rules.create",
              lambda: org.workload_identity_providers.federation_rules.create(
                  wid, name="main branch", project_id=pid, service_account_id=said,
                  attribute_matchers={"repository": "acme/infra", "ref": "refs/heads/main"}))
    c("workload_identity_providers.federation_rules.list",
      lambda: org.workload_identity_providers.federation_rules.list(wid))
    c("workload_identity_providers.federation_rules.retrieve",
      lambda: org.workload_identity_providers.federation_rules.retrieve(
          ident(frule), workload_identity_provider_id=wid))
    c("workload_identity_providers.federation_rules.update",
      lambda: org.workload_identity_providers.federation_rules.update(
          ident(frule), workload_identity_provider_id=wid, enabled=False))
    c("workload_identity_providers.federation_rules.delete",
      lambda: org.workload_identity_providers.federation_rules.delete(
          ident(frule), workload_identity_provider_id=wid))
    c("workload_identity_providers.delete", lambda: org.workload_identity_providers.delete(wid))

    # Usage and costs: every family, one day of buckets.
    start = int(time.time()) - 86400
    for family in ("audio_speeches", "audio_transcriptions", "code_interpreter_sessions",
                   "completions", "costs", "decisions", "embeddings", "file_search_calls",
                   "images", "moderations", "vector_stores", "web_search_calls"):
        method = getattr(org.usage, family)
        c(f"usage.{family}", lambda method=method: method(start_time=start, limit=1))

    # Deletions last: what the project held, then the project itself.
    delete_project_api_key(run, org, pid, ident(extra))
    c("projects.service_accounts.delete", lambda: org.projects.service_accounts.delete(
        said, project_id=pid))
    c("projects.users.delete", lambda: org.projects.users.delete(ident(eve), project_id=pid))
    c("projects.archive", lambda: org.projects.archive(pid))
    c("certificates.delete", lambda: org.certificates.delete(ident(cert)))
    c("groups.roles.delete", lambda: org.groups.roles.delete(ident(role), group_id=ident(group)))
    c("groups.users.delete", lambda: org.groups.users.delete(ident(bob), group_id=ident(group)))
    c("groups.delete", lambda: org.groups.delete(ident(group)))
    c("roles.delete", lambda: org.roles.delete(ident(role)))
    c("users.delete", lambda: org.users.delete(ident(eve)))

    return report(operations, run.results)


def delete_project_api_key(run, org, pid, service_account_key):
    """Deletes a user-owned project key when the organization has one (either emulator mode
    allows that); otherwise the service-account key, where the spec declares a 400 ("an
    error if the key belonged to a service account") and SDK 3.51+ a deletion: the
    emulator's default follows the spec, `--allow-service-account-key-delete` the SDK."""
    for project in org.projects.list(limit=100).data:
        for key in org.projects.api_keys.list(project.id, limit=100).data:
            if key.owner.type == "user":
                run.call("projects.api_keys.delete",
                         lambda: org.projects.api_keys.delete(key.id, project_id=project.id))
                return
    try:
        validate(org.projects.api_keys.delete(service_account_key, project_id=pid))
        run.record("projects.api_keys.delete", "ok")
    except openai.BadRequestError as error:
        run.record("projects.api_keys.delete",
                   "ok" if "service account" in str(error) else f"BadRequestError: {error}")
    except (openai.APIError, pydantic.ValidationError) as error:
        run.record("projects.api_keys.delete", f"{type(error).__name__}: {error}")


def report(operations, results):
    failures = []
    unwritten = sorted(set(operations) - set(results))
    unknown = sorted(set(results) - set(operations))
    for op in unwritten:
        failures.append((op, "no call written for this SDK operation"))
    for op in unknown:
        failures.append((op, "called, but the SDK has no such operation"))
    spec_ok = sdk_ok = 0
    missing = []
    for op in operations:
        outcome = results.get(op)
        if outcome is None:
            continue
        if outcome == "ok":
            if op in SDK_ONLY:
                sdk_ok += 1
            else:
                spec_ok += 1
        elif outcome == "not implemented" and op in SDK_ONLY:
            missing.append(op)
        else:
            failures.append((op, outcome))
    spec_total = len(set(operations) - SDK_ONLY)
    sdk_total = len(SDK_ONLY & set(operations))
    if len(operations) != EXPECTED_OPERATIONS:
        failures.append(("(all)", f"the SDK has {len(operations)} admin operations, "
                                  f"this script was written for {EXPECTED_OPERATIONS}"))
    if missing:
        print(f"SDK-only operations the emulator does not implement ({len(missing)}):")
        width = max(len(op) for op in missing)
        for op in missing:
            print(f"  {op:<{width}}  404 Invalid URL")
    for op, why in failures:
        print(f"FAILED {op}: {why}")
    print(f"sdk operations: {len(operations)} in openai {openai.__version__}; "
          f"spec operations {spec_ok}/{spec_total} passed; "
          f"SDK-only operations {sdk_ok + len([f for f in failures if f[0] in SDK_ONLY])}"
          f"/{sdk_total} implemented ({sdk_ok} passed), {len(missing)} not implemented; "
          f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
