"""kehu.cli: the ``kehu`` command end to end — global options, every core command's JSON shape, exit codes and
one-line errors, nothing written by a failed command, --limit/--offset/--csv, time zones, env vars, data scope,
the installed console script, and the mapping of unexpected errors in ``main()``.

Every test runs the real command in-process with click's CliRunner on a fresh root group (``make_cli()``),
against the fresh database of ``kehu_db_url`` (SQLite and PostgreSQL).
"""

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess

import click
import peewee
import pytest
from click.testing import CliRunner

import kehu
from kehu import hookimpl
from kehu.cli import make_cli
from kehu.core.console import emit, pass_context
from kehu.core.plugins import make_plugin_manager
from kehu.errors import Vetoed
from kehu.testing import without_source_rule

UTC = dt.timezone.utc
KEHU_ENV = ("KEHU_DB", "KEHU_WORKSPACE", "KEHU_USER", "KEHU_DEBUG")
CUSTOMER_KEYS = {"id", "name", "phone", "email", "region", "industry", "source", "owner", "parent", "custom",
                 "created_at", "updated_at"}


@pytest.fixture(autouse=True)
def _no_kehu_environment(monkeypatch):
    """The operator's own KEHU_* variables must not leak into these tests."""
    for name in KEHU_ENV:
        monkeypatch.delenv(name, raising=False)


def instant(text):
    return dt.datetime.fromisoformat(text)


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def no_traceback(result):
    assert "Traceback" not in result.output, result.output


class Kehu:
    """Runs ``kehu --db URL [-w WS] [--as USER] [--now T] [--json] ARGS`` in-process and checks the outcome."""

    def __init__(self, url, workspace=None):
        self.url = url
        self.workspace = workspace

    def argv(self, args, w=None, as_=None, now=None, json_mode=False, db=True):
        w = self.workspace if w is None else w
        out = ["--db", self.url] if db else []
        if w:
            out += ["-w", w]
        if as_:
            out += ["--as", as_]
        if now:
            out += ["--now", now]
        if json_mode:
            out.append("--json")
        return out + [str(a) for a in args]

    def run(self, *args, w=None, as_=None, now=None, json_mode=False, env=None, cli=None, db=True):
        argv = self.argv(args, w, as_, now, json_mode, db)
        return CliRunner().invoke(cli or make_cli(), argv, env=env, catch_exceptions=False)

    def ok(self, *args, **options):
        """Run with --json; expect exit 0 and exactly one JSON document on stdout; return it."""
        result = self.run(*args, json_mode=True, **options)
        assert result.exit_code == 0, (args, result.output)
        assert result.stderr == "", result.stderr
        return json.loads(result.stdout)

    def text(self, *args, **options):
        """Run without --json; expect exit 0; return stdout."""
        result = self.run(*args, **options)
        assert result.exit_code == 0, (args, result.output)
        no_traceback(result)
        return result.stdout

    def fails(self, *args, code, **options):
        """Expect error ``code`` (exit 1) both with --json (one JSON object on stdout) and without (one line
        ``Error: ...`` on stderr, nothing on stdout); no traceback either way. Returns the message."""
        result = self.run(*args, json_mode=True, **options)
        assert result.exit_code == 1, (args, result.output)
        no_traceback(result)
        payload = json.loads(result.stdout)
        assert set(payload) == {"error", "code"}, payload
        assert payload["code"] == code, (args, payload)
        assert isinstance(payload["error"], str) and payload["error"].strip()
        assert "\n" not in payload["error"]
        assert result.stderr == ""

        result = self.run(*args, **options)
        assert result.exit_code == 1, (args, result.output)
        no_traceback(result)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0] == f"Error: {payload['error']}"
        return payload["error"]

    def usage(self, *args, **options):
        """Expect a usage error: exit 2; with --json exactly ``{"error", "code": "usage"}`` on stdout."""
        result = self.run(*args, json_mode=True, **options)
        assert result.exit_code == 2, (args, result.output)
        no_traceback(result)
        payload = json.loads(result.stdout)
        assert set(payload) == {"error", "code"}
        assert payload["code"] == "usage"
        assert payload["error"].strip()

        result = self.run(*args, **options)
        assert result.exit_code == 2, (args, result.output)
        no_traceback(result)
        assert result.stdout == ""
        assert any(line.startswith("Error: ") for line in result.stderr.splitlines()), result.stderr
        return payload["error"]

    def snapshot(self):
        """Everything a failed command could have written, counted through the CLI as the system."""
        w = self.workspace or "acme"
        return {
            "workspaces": self.ok("workspace", "list", "--limit", "0", w=""),
            "org": self.ok("org", "list", "--limit", "0", w=w),
            "users": self.ok("user", "list", "--all", "--limit", "0", w=w),
            "fields": self.ok("field", "list", "--limit", "0", w=w),
            "customers": self.ok("customer", "list", "--limit", "0", w=w),
            "activities": self.ok("activity", "list", "--limit", "0", w=w),
            "events": len(self.ok("events", "--limit", "0", w=w)),
            "plugins": self.ok("plugins", "list", "--limit", "0", w=w),
        }


@pytest.fixture
def k(kehu_db_url):
    """A database with workspace ``acme`` (Asia/Shanghai, admin ``boss``); commands default to ``-w acme``."""
    runner = Kehu(kehu_db_url)
    runner.ok("workspace", "create", "acme", "--admin", "boss", "--timezone", "Asia/Shanghai")
    runner.workspace = "acme"
    # Core's commands are under test here; the call center's source rule for reps is tested with its plugin.
    app = kehu.connect(kehu_db_url)
    try:
        without_source_rule(app.workspace("acme", user="boss"))
    finally:
        app.close()
    return runner


@pytest.fixture
def crm(k):
    """acme with an org tree, two reps and a manager, a choice field and one customer per rep.

    Unit 华东/销售一部 holds rep1 and rep2; mgr manages 华东. ``k.ids`` maps customer names to ids.
    """
    k.ok("org", "add", "华东/销售一部")
    k.ok("user", "add", "rep1", "--role", "rep", "--unit", "华东/销售一部", "--name", "Li Lei")
    k.ok("user", "add", "rep2", "--role", "rep", "--unit", "华东/销售一部")
    k.ok("user", "add", "mgr", "--role", "manager", "--unit", "华东")
    k.ok("field", "add", "tier", "--type", "choice", "--choices", "gold,silver")
    alpha = k.ok("customer", "add", "--name", "Alpha Co", as_="rep1")
    beta = k.ok("customer", "add", "--name", "Beta Co", as_="rep2")
    k.ids = {"Alpha Co": alpha["id"], "Beta Co": beta["id"]}
    return k


# --- root group -----------------------------------------------------------------------------------------


def test_help_lists_core_command_groups():
    result = CliRunner().invoke(make_cli(), ["--help"])
    assert result.exit_code == 0
    for name in ("workspace", "org", "user", "customer", "field", "activity", "events", "tick", "inbox",
                 "plugins", "db"):
        assert name in result.stdout


def test_version():
    result = CliRunner().invoke(make_cli(), ["--version"])
    assert result.exit_code == 0
    assert kehu.__version__ in result.stdout


def test_make_cli_builds_a_fresh_group_each_time():
    first, second = make_cli(), make_cli()
    assert first is not second
    first.add_command(click.Command("only-here"))
    assert "only-here" not in second.commands


# --- workspace ------------------------------------------------------------------------------------------


def test_workspace_create_json_shape(kehu_db_url):
    k = Kehu(kehu_db_url)
    created = k.ok("workspace", "create", "acme", "--admin", "boss", "--timezone", "Europe/Berlin")
    assert isinstance(created["id"], int)
    assert created["name"] == "acme"
    assert created["timezone"] == "Europe/Berlin"
    assert created["admin"] == "boss"
    assert isinstance(created["plugins"], list)
    assert {"leads", "credit", "callcenter", "survey", "templates"} <= set(created["plugins"])
    instant(created["created_at"])  # ISO-8601


def test_workspace_create_default_timezone_and_chosen_plugins(kehu_db_url):
    k = Kehu(kehu_db_url)
    created = k.ok("workspace", "create", "acme", "--admin", "boss", "--plugins", "leads, survey")
    assert created["timezone"] == "Asia/Shanghai"
    assert created["plugins"] == ["leads", "survey"]
    none = k.ok("workspace", "create", "bare", "--admin", "boss", "--plugins", "")
    assert none["plugins"] == []


def test_workspace_create_human_output(kehu_db_url):
    out = Kehu(kehu_db_url).text("workspace", "create", "acme", "--admin", "boss", "--plugins", "leads")
    assert out.strip() == "created workspace acme (admin boss; plugins: leads)"


def test_workspace_list(kehu_db_url):
    k = Kehu(kehu_db_url)
    assert k.ok("workspace", "list") == []
    k.ok("workspace", "create", "zeta", "--admin", "z", "--plugins", "leads")
    k.ok("workspace", "create", "acme", "--admin", "a")
    listed = k.ok("workspace", "list")
    assert [w["name"] for w in listed] == ["acme", "zeta"]
    assert all(isinstance(w["id"], int) for w in listed)
    assert listed[1]["plugins"] == ["leads"]
    assert listed[0]["timezone"] == "Asia/Shanghai"


def test_workspace_create_admin_can_act(k):
    users = k.ok("user", "list", as_="boss")
    assert [(u["login"], u["role"], u["active"]) for u in users] == [("boss", "admin", True)]


# --- org ------------------------------------------------------------------------------------------------


def test_org_add_creates_ancestors_and_lists_tree(k):
    added = k.ok("org", "add", "华东/销售一部", "--kind", "department")
    assert isinstance(added["id"], int)
    assert added["path"] == "华东/销售一部"
    assert added["name"] == "销售一部"
    assert added["kind"] == "department"
    assert added["created"] == ["华东", "华东/销售一部"]
    again = k.ok("org", "add", "华东/销售一部")
    assert again["id"] == added["id"] and again["created"] == []
    k.ok("user", "add", "rep1", "--role", "rep", "--unit", "华东/销售一部")
    listed = k.ok("org", "list")
    assert [(u["path"], u["users"]) for u in listed] == [("华东", 0), ("华东/销售一部", 1)]
    assert listed[1]["parent_id"] == listed[0]["id"]


# --- user -----------------------------------------------------------------------------------------------


def test_user_add_json_shape(k):
    k.ok("org", "add", "华东")
    user = k.ok("user", "add", "rep1", "--role", "rep", "--unit", "华东", "--name", "Li Lei")
    assert isinstance(user["id"], int)
    assert {k_: user[k_] for k_ in ("login", "name", "role", "unit", "active")} == {
        "login": "rep1", "name": "Li Lei", "role": "rep", "unit": "华东", "active": True}
    plain = k.ok("user", "add", "rep2", "--role", "rep")
    assert plain["name"] == "rep2" and plain["unit"] is None


def test_user_list_and_filters(crm):
    logins = [u["login"] for u in crm.ok("user", "list")]
    assert logins == ["boss", "mgr", "rep1", "rep2"]
    assert [u["login"] for u in crm.ok("user", "list", "--role", "rep")] == ["rep1", "rep2"]
    assert [u["login"] for u in crm.ok("user", "list", "--unit", "华东")] == ["mgr"]


def test_user_deactivate_hands_customers_over(crm):
    result = crm.ok("user", "deactivate", "rep1", "--handover", "rep2")
    assert result["login"] == "rep1"
    assert result["active"] is False
    assert result["customers_handed_over"] == 1
    assert [u["login"] for u in crm.ok("user", "list")] == ["boss", "mgr", "rep2"]
    everyone = crm.ok("user", "list", "--all")
    assert {u["login"]: u["active"] for u in everyone}["rep1"] is False
    alpha = crm.ok("customer", "show", crm.ids["Alpha Co"])
    assert alpha["owner"] == "rep2"
    # a deactivated user can no longer act
    crm.fails("customer", "list", as_="rep1", code="permission_denied")
    crm.fails("user", "deactivate", "rep1", code="conflict")


def test_user_deactivate_without_handover(crm):
    result = crm.ok("user", "deactivate", "rep2")
    assert result["active"] is False
    assert result["customers_handed_over"] == 0


# --- customer -------------------------------------------------------------------------------------------


def test_customer_add_json_shape_with_every_option(crm):
    parent = crm.ids["Alpha Co"]
    added = crm.ok("customer", "add", "--name", "  Gamma Trading  ", "--phone", "138 0013 8000",
                   "--email", "Sales@Gamma.example", "--region", "华东", "--industry", "textiles",
                   "--source", "fair", "--owner", "rep1", "--parent", parent, "--field", "tier=gold")
    assert set(added) >= CUSTOMER_KEYS
    assert isinstance(added["id"], int) and added["id"] not in crm.ids.values()
    assert added["name"] == "Gamma Trading"
    assert added["region"] == "华东" and added["industry"] == "textiles" and added["source"] == "fair"
    assert added["owner"] == "rep1"
    assert added["parent"] == parent
    assert added["custom"] == {"tier": "gold"}
    assert added["phone"] and added["email"]
    assert instant(added["created_at"]).utcoffset() == dt.timedelta(0)


def test_customer_add_as_system_has_no_owner_and_as_user_owns_it(crm):
    assert crm.ok("customer", "add", "--name", "Nobody's")["owner"] is None
    assert crm.ok("customer", "add", "--name", "Mine", as_="rep1")["owner"] == "rep1"
    assert crm.ok("customer", "add", "--name", "Theirs", "--owner", "rep2", as_="mgr")["owner"] == "rep2"


def test_customer_list_show_update_delete(crm):
    listed = crm.ok("customer", "list")
    assert isinstance(listed, list)
    assert [c["name"] for c in listed] == ["Alpha Co", "Beta Co"]
    assert all(set(c) >= CUSTOMER_KEYS for c in listed)
    assert [c["owner"] for c in listed] == ["rep1", "rep2"]

    alpha_id = crm.ids["Alpha Co"]
    shown = crm.ok("customer", "show", alpha_id)
    assert shown["id"] == alpha_id and shown["name"] == "Alpha Co" and shown["owner"] == "rep1"
    assert shown["contacts"] == [] and shown["ancestors"] == [] and shown["children"] == []

    updated = crm.ok("customer", "update", alpha_id, "--region", "华南", "--field", "tier=silver",
                     "--name", "Alpha Group")
    assert updated["id"] == alpha_id
    assert updated["region"] == "华南" and updated["name"] == "Alpha Group"
    assert updated["custom"] == {"tier": "silver"}
    assert crm.ok("customer", "show", alpha_id)["region"] == "华南"

    child = crm.ok("customer", "add", "--name", "Alpha Sub", "--parent", alpha_id)
    assert crm.ok("customer", "show", alpha_id)["children"] == [child["id"]]
    assert crm.ok("customer", "show", child["id"])["ancestors"] == [alpha_id]
    assert crm.ok("customer", "update", child["id"], "--parent", "0")["parent"] is None

    deleted = crm.ok("customer", "delete", crm.ids["Beta Co"])
    assert deleted == {"id": crm.ids["Beta Co"], "deleted": True}
    assert [c["name"] for c in crm.ok("customer", "list")] == ["Alpha Group", "Alpha Sub"]
    crm.fails("customer", "show", crm.ids["Beta Co"], code="not_found")
    crm.fails("customer", "delete", crm.ids["Beta Co"], code="not_found")


def test_customer_list_filters(crm):
    crm.ok("customer", "add", "--name", "Gamma", "--region", "华南", "--phone", "13900000000", as_="rep1")
    assert [c["name"] for c in crm.ok("customer", "list", "--region", "华南")] == ["Gamma"]
    assert [c["name"] for c in crm.ok("customer", "list", "--owner", "rep1")] == ["Alpha Co", "Gamma"]
    assert [c["name"] for c in crm.ok("customer", "list", "--search", "Beta")] == ["Beta Co"]
    assert [c["name"] for c in crm.ok("customer", "list", "--search", "13900000000")] == ["Gamma"]


def test_customer_human_output_is_not_json(crm):
    out = crm.text("customer", "show", crm.ids["Alpha Co"])
    assert "Alpha Co" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    assert "Alpha Co" in crm.text("customer", "list")
    assert crm.text("customer", "delete", crm.ids["Alpha Co"]).strip() == f"deleted customer {crm.ids['Alpha Co']}"


def test_customer_required_custom_field(k):
    field = k.ok("field", "add", "credit_days", "--type", "int", "--required")
    assert field["required"] is True
    message = k.fails("customer", "add", "--name", "X", code="invalid")
    assert "credit_days" in message
    added = k.ok("customer", "add", "--name", "X", "--field", "credit_days=30")
    assert added["custom"] == {"credit_days": 30}
    k.fails("customer", "add", "--name", "Y", "--field", "credit_days=thirty", code="invalid")
    assert len(k.ok("customer", "list")) == 1


# --- field ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, expected", [
    (["note", "--type", "text"], {"name": "note", "type": "text", "choices": None, "required": False}),
    (["size", "--type", "int", "--required"], {"name": "size", "type": "int", "required": True}),
    (["rate", "--type", "decimal"], {"type": "decimal"}),
    (["since", "--type", "date"], {"type": "date"}),
    (["tier", "--type", "choice", "--choices", "gold, silver"], {"type": "choice", "choices": ["gold", "silver"]}),
])
def test_field_add_json_shape(k, args, expected):
    field = k.ok("field", "add", *args)
    assert isinstance(field["id"], int)
    assert field["entity"] == "customer"
    assert {key: field[key] for key in expected} == expected
    assert [f["name"] for f in k.ok("field", "list")] == [expected.get("name", args[0])]


# --- activity -------------------------------------------------------------------------------------------


def test_activity_log_json_shape(crm):
    alpha = crm.ids["Alpha Co"]
    logged = crm.ok("activity", "log", "--customer", alpha, "--kind", "call", "--subject", "First call",
                    "--notes", "wants samples", as_="rep1")
    assert isinstance(logged["id"], int)
    assert {key: logged[key] for key in ("kind", "subject", "notes", "customer", "user", "due_at", "done_at")} \
        == {"kind": "call", "subject": "First call", "notes": "wants samples", "customer": alpha,
            "user": "rep1", "due_at": None, "done_at": None}
    for kind in ("visit", "note", "task"):
        assert crm.ok("activity", "log", "--customer", alpha, "--kind", kind, "--subject", kind)["kind"] == kind
    listed = crm.ok("activity", "list", "--customer", alpha)
    assert [a["kind"] for a in listed] == ["call", "visit", "note", "task"]
    assert crm.ok("activity", "log", "--customer", alpha, "--kind", "note", "--subject", "s")["user"] is None


@pytest.mark.parametrize("due, expected", [
    ("2026-11-24T09:00", utc(2026, 11, 24, 1, 0)),           # zoneless: Asia/Shanghai (UTC+8)
    ("2026-11-24T09:00:00", utc(2026, 11, 24, 1, 0)),
    ("2026-11-24", utc(2026, 11, 23, 16, 0)),                # a bare date is local midnight
    ("2026-11-24T09:00Z", utc(2026, 11, 24, 9, 0)),          # an explicit zone is kept
    ("2026-11-24T09:00+00:00", utc(2026, 11, 24, 9, 0)),
    ("2026-11-24T09:00+09:00", utc(2026, 11, 24, 0, 0)),
])
def test_activity_due_is_read_in_the_workspace_timezone(crm, due, expected):
    logged = crm.ok("activity", "log", "--customer", crm.ids["Alpha Co"], "--kind", "task", "--subject", "T",
                    "--due", due)
    assert instant(logged["due_at"]) == expected
    assert logged["due_at"] == expected.isoformat()


def test_activity_due_in_another_workspace_timezone(kehu_db_url):
    k = Kehu(kehu_db_url, "ny")
    k.ok("workspace", "create", "ny", "--admin", "boss", "--timezone", "America/New_York", w="")
    customer = k.ok("customer", "add", "--name", "Big Apple")
    summer = k.ok("activity", "log", "--customer", customer["id"], "--kind", "task", "--subject", "s",
                  "--due", "2026-07-01T09:00")
    winter = k.ok("activity", "log", "--customer", customer["id"], "--kind", "task", "--subject", "w",
                  "--due", "2026-12-01T09:00")
    assert instant(summer["due_at"]) == utc(2026, 7, 1, 13, 0)   # EDT
    assert instant(winter["due_at"]) == utc(2026, 12, 1, 14, 0)  # EST


def test_activity_done(crm):
    task = crm.ok("activity", "log", "--customer", crm.ids["Alpha Co"], "--kind", "task", "--subject", "T",
                  as_="rep1")
    done = crm.ok("activity", "done", task["id"], as_="rep1", now="2026-11-24T18:30")
    assert done["id"] == task["id"]
    assert instant(done["done_at"]) == utc(2026, 11, 24, 10, 30)
    assert crm.ok("activity", "list", "--open") == []
    crm.fails("activity", "done", task["id"], as_="rep1", code="conflict")
    crm.fails("activity", "done", "999999", code="not_found")


# --- contacts, opportunities, transfers, reports --------------------------------------------------------


def test_contact_add_and_list(crm):
    alpha = crm.ids["Alpha Co"]
    contact = crm.ok("contact", "add", "--customer", alpha, "--name", "Wang Fang", "--title", "buyer",
                     "--role", "handler", "--phone", "13800138000", "--email", "wang@alpha.example", as_="rep1")
    assert isinstance(contact["id"], int)
    assert {key: contact[key] for key in ("customer", "name", "title", "role")} == {
        "customer": alpha, "name": "Wang Fang", "title": "buyer", "role": "handler"}
    assert [c["id"] for c in crm.ok("contact", "list", "--customer", alpha)] == [contact["id"]]
    assert [c["name"] for c in crm.ok("customer", "show", alpha)["contacts"]] == ["Wang Fang"]
    crm.fails("contact", "add", "--customer", alpha, "--name", "X", as_="rep2", code="permission_denied")


def test_opportunity_add_update_list(crm):
    alpha = crm.ids["Alpha Co"]
    deal = crm.ok("opportunity", "add", "--customer", alpha, "--name", "Silk order", "--stage", "new",
                  "--amount", "1234.5", "--expected-close", "2026-12-31", as_="rep1")
    assert isinstance(deal["id"], int)
    assert {key: deal[key] for key in ("customer", "name", "amount", "stage", "status", "owner",
                                       "expected_close")} == {
        "customer": alpha, "name": "Silk order", "amount": "1234.50", "stage": "new", "status": "open",
        "owner": "rep1", "expected_close": "2026-12-31"}
    won = crm.ok("opportunity", "update", deal["id"], "--status", "won", "--amount", "2000", as_="rep1")
    assert won["status"] == "won" and won["amount"] == "2000.00"
    assert [o["id"] for o in crm.ok("opportunity", "list", "--status", "won")] == [deal["id"]]
    assert crm.ok("opportunity", "list", as_="rep2") == []


def test_customer_transfer(crm):
    alpha = crm.ids["Alpha Co"]
    moved = crm.ok("customer", "transfer", alpha, "--to", "rep2", as_="mgr")
    assert moved == {"transferred": [alpha], "to": "rep2"}
    assert crm.ok("customer", "show", alpha, as_="rep2")["owner"] == "rep2"
    crm.fails("customer", "transfer", alpha, "--to", "rep1", as_="rep2", code="permission_denied")
    crm.fails("customer", "transfer", alpha, "--to", "ghost", as_="mgr", code="not_found")


def test_reports(crm):
    catalogue = crm.ok("reports")
    assert isinstance(catalogue, list)
    assert "activity-summary" in {r["name"] for r in catalogue}
    crm.ok("activity", "log", "--customer", crm.ids["Alpha Co"], "--kind", "call", "--subject", "c",
           as_="rep1", now="2026-11-10T10:00")
    report = crm.ok("reports", "activity-summary", "--from", "2026-11-01", "--to", "2026-11-30")
    assert report["columns"][0] == "user"
    assert instant(report["from"]) == utc(2026, 10, 31, 16, 0)  # local midnight, Asia/Shanghai
    rows = [dict(zip(report["columns"], row)) for row in report["rows"]]
    assert [(r["user"], r["call"]) for r in rows] == [("rep1", 1)]
    table = list(csv.DictReader(io.StringIO(crm.text("reports", "activity-summary", "--from", "2026-11-01",
                                                     "--to", "2026-11-30", "--csv"))))
    assert [(r["user"], r["call"]) for r in table] == [("rep1", "1")]
    crm.fails("reports", "nosuch", code="not_found")
    crm.fails("reports", "activity-summary", "--from", "2026-13-01", code="invalid")


def test_user_update_and_roles(crm):
    changed = crm.ok("user", "update", "rep1", "--role", "manager", "--unit", "华东", "--name", "Li")
    assert {key: changed[key] for key in ("login", "role", "unit", "name")} == {
        "login": "rep1", "role": "manager", "unit": "华东", "name": "Li"}
    roles = {r["key"]: r for r in crm.ok("user", "roles")}
    assert {"rep", "manager", "director", "vp", "gm", "finance", "admin"} <= set(roles)
    assert roles["rep"]["rank"] < roles["manager"]["rank"] < roles["director"]["rank"] < roles["vp"]["rank"] \
        < roles["gm"]["rank"]
    crm.fails("user", "update", "rep2", "--role", "emperor", code="invalid")
    crm.fails("user", "update", "ghost", "--role", "rep", code="not_found")


# --- --now ------------------------------------------------------------------------------------------------


def test_now_without_zone_is_workspace_time(crm):
    added = crm.ok("customer", "add", "--name", "Timed", now="2026-11-24T09:00")
    assert instant(added["created_at"]) == utc(2026, 11, 24, 1, 0)
    assert instant(added["updated_at"]) == utc(2026, 11, 24, 1, 0)
    events = crm.ok("events", "--entity", f"customer:{added['id']}")
    assert [instant(e["at"]) for e in events] == [utc(2026, 11, 24, 1, 0)]
    zoned = crm.ok("customer", "add", "--name", "Zoned", now="2026-11-24T09:00+00:00")
    assert instant(zoned["created_at"]) == utc(2026, 11, 24, 9, 0)
    zulu = crm.ok("customer", "add", "--name", "Zulu", now="2026-11-24T09:00Z")
    assert instant(zulu["created_at"]) == utc(2026, 11, 24, 9, 0)


def test_now_on_workspace_create_uses_the_new_workspace_timezone(kehu_db_url):
    k = Kehu(kehu_db_url)
    created = k.ok("workspace", "create", "acme", "--admin", "boss", "--timezone", "Asia/Shanghai",
                   now="2026-11-24T09:00")
    assert instant(created["created_at"]) == utc(2026, 11, 24, 1, 0)
    berlin = k.ok("workspace", "create", "berlin", "--admin", "boss", "--timezone", "Europe/Berlin",
                  now="2026-11-24T09:00")
    assert instant(berlin["created_at"]) == utc(2026, 11, 24, 8, 0)


@pytest.mark.parametrize("now", ["garbage", "2026-13-01", "24/11/2026", "2026-11-24T25:00", " "])
def test_bad_now_is_invalid_on_every_command(crm, now):
    before = crm.snapshot()
    message = crm.fails("customer", "add", "--name", "X", now=now, code="invalid")
    assert "--now" in message or "now" in message
    crm.fails("workspace", "create", "w2", "--admin", "a", now=now, code="invalid", w="")
    crm.fails("activity", "log", "--customer", crm.ids["Alpha Co"], "--kind", "note", "--subject", "s",
              now=now, code="invalid")
    crm.fails("tick", now=now, code="invalid")
    # even a command that does not use the clock refuses a clock it cannot read
    crm.fails("workspace", "list", now=now, code="invalid", w="")
    crm.fails("customer", "list", now=now, code="invalid")
    assert crm.snapshot() == before


# --- events, tick, inbox --------------------------------------------------------------------------------


def test_events_for_a_customer_newest_first(crm):
    alpha = crm.ids["Alpha Co"]
    crm.ok("customer", "update", alpha, "--region", "华北", as_="rep1")
    events = crm.ok("events", "--entity", f"customer:{alpha}")
    assert isinstance(events, list)
    assert [e["action"] for e in events] == ["customer.updated", "customer.created"]
    assert all(e["entity"] == f"customer:{alpha}" for e in events)
    assert [e["actor"] for e in events] == ["rep1", "rep1"]
    assert events[0]["id"] > events[1]["id"]
    assert all(isinstance(e["id"], int) for e in events)
    # the rep may read the history of their own customer; the whole log needs admin
    assert [e["action"] for e in crm.ok("events", "--entity", f"customer:{alpha}", as_="rep1")] == \
        ["customer.updated", "customer.created"]
    everything = crm.ok("events", as_="boss")
    assert {"workspace.created", "user.added", "customer.created", "customer.updated"} <= \
        {e["action"] for e in everything}
    assert [e["action"] for e in crm.ok("events", "--action", "user.added")] == ["user.added"] * 3


def test_tick_and_inbox(crm):
    alpha = crm.ids["Alpha Co"]
    crm.ok("activity", "log", "--customer", alpha, "--kind", "task", "--subject", "Send quote",
           "--due", "2026-11-24T09:00", as_="rep1")
    early = crm.ok("tick", now="2026-11-24T08:59")
    assert isinstance(early, list)
    assert [entry["workspace"] for entry in early] == ["acme"]
    reminders = {j["job"]: j for j in early[0]["jobs"]}["core.task_reminders"]
    assert reminders["ran"] is True and reminders["result"] == {"reminded": 0}
    assert crm.ok("inbox", as_="rep1") == []

    due = crm.ok("tick", now="2026-11-24T09:00")  # due when now >= deadline, in workspace time
    assert {j["job"]: j for j in due[0]["jobs"]}["core.task_reminders"]["result"] == {"reminded": 1}
    again = crm.ok("tick", now="2026-11-25T09:00")  # once per deadline
    assert {j["job"]: j for j in again[0]["jobs"]}["core.task_reminders"]["result"] == {"reminded": 0}

    inbox = crm.ok("inbox", as_="rep1")
    assert len(inbox) == 1
    assert inbox[0]["kind"] == "task_due" and "Send quote" in inbox[0]["message"]
    assert inbox[0]["read"] is False and isinstance(inbox[0]["id"], int)
    assert crm.ok("inbox", as_="rep2") == []
    assert len(crm.ok("inbox", "--unread", "--mark-read", as_="rep1")) == 1
    assert crm.ok("inbox", "--unread", as_="rep1") == []
    assert crm.ok("inbox", as_="rep1")[0]["read"] is True


def test_tick_without_workspace_runs_every_workspace(crm):
    crm.ok("workspace", "create", "other", "--admin", "o", w="")
    ran = crm.ok("tick", w="")
    assert sorted(entry["workspace"] for entry in ran) == ["acme", "other"]


def test_inbox_needs_a_user(crm):
    message = crm.fails("inbox", code="invalid")
    assert "--as" in message


# --- plugins and db -------------------------------------------------------------------------------------


def test_plugins_list_enable_disable(k):
    listed = k.ok("plugins", "list")
    assert isinstance(listed, list)
    by_name = {p["name"]: p for p in listed}
    assert "core" not in by_name
    assert by_name["survey"]["enabled"] is True and by_name["survey"]["builtin"] is True
    assert {"name", "version", "builtin", "enabled", "description"} <= set(by_name["survey"])

    assert k.ok("plugins", "disable", "survey") == {"plugin": "survey", "enabled": False, "changed": True}
    assert k.ok("plugins", "disable", "survey") == {"plugin": "survey", "enabled": False, "changed": False}
    assert {p["name"]: p["enabled"] for p in k.ok("plugins", "list")}["survey"] is False
    assert k.ok("plugins", "enable", "survey") == {"plugin": "survey", "enabled": True, "changed": True}
    assert {p["name"]: p["enabled"] for p in k.ok("plugins", "list")}["survey"] is True
    assert "survey is enabled in acme" in k.text("plugins", "enable", "survey")


def test_db_upgrade_and_status(kehu_db_url):
    k = Kehu(kehu_db_url)
    upgraded = k.ok("db", "upgrade")
    assert isinstance(upgraded, list)
    assert "core" in {row["plugin"] for row in upgraded}
    assert all({"plugin", "version", "created", "applied"} <= set(row) for row in upgraded)
    status = k.ok("db", "status")
    assert isinstance(status, list)
    by_plugin = {row["plugin"]: row for row in status}
    assert {"core", "leads", "credit", "callcenter", "survey", "templates"} <= set(by_plugin)
    assert all(row["pending"] == [] for row in status)
    assert all(row["version"] for row in status)
    assert k.ok("db", "upgrade") == k.ok("db", "upgrade")  # idempotent


# --- plugin commands: plugin_disabled -------------------------------------------------------------------


@click.group("probe")
def probe_group():
    """A test plugin's commands (module-level, as a plugin package defines them)."""


@probe_group.command("ping")
@pass_context
def probe_ping(context):
    emit({"pong": context.workspace.name})


class ProbePlugin:
    """A third-party plugin registered without installing a package."""

    __version__ = "1.0"

    @hookimpl
    def kehu_register_commands(self, cli):
        cli.add_command(probe_group)


@pytest.fixture
def probe_pm():
    return make_plugin_manager(extra_plugins=[("probe", ProbePlugin())])


def test_plugin_command_answers_plugin_disabled(k, probe_pm):
    def cli():
        return make_cli(plugin_manager=probe_pm)

    message = k.fails("probe", "ping", cli=cli(), code="plugin_disabled")
    assert "probe" in message and "acme" in message
    assert k.ok("plugins", "enable", "probe", cli=cli())["changed"] is True
    assert k.ok("probe", "ping", cli=cli()) == {"pong": "acme"}
    assert k.ok("plugins", "disable", "probe", cli=cli())["changed"] is True
    k.fails("probe", "ping", cli=cli(), code="plugin_disabled")


def test_plugin_commands_survive_many_root_groups(k, probe_pm):
    """Each make_cli() mounts the same module-level plugin commands; wrapping them again must not nest."""
    k.ok("plugins", "enable", "probe", cli=make_cli(plugin_manager=probe_pm))
    for _ in range(1200):
        make_cli(plugin_manager=probe_pm).mount_plugins()
    assert k.ok("probe", "ping", cli=make_cli(plugin_manager=probe_pm)) == {"pong": "acme"}


# --- bad input: exit 1 with a code, nothing written -----------------------------------------------------


BAD_INPUT = [
    # invalid: wrong type, out of range, unknown choice, malformed
    (["customer", "add", "--name", ""], None, "invalid"),
    (["customer", "add", "--name", "   "], None, "invalid"),
    (["customer", "add", "--name", "X", "--phone", "abc"], None, "invalid"),
    (["customer", "add", "--name", "X", "--email", "not-an-email"], None, "invalid"),
    (["customer", "add", "--name", "X", "--parent", "abc"], None, "invalid"),
    (["customer", "add", "--name", "X", "--field", "tier=bronze"], None, "invalid"),
    (["customer", "add", "--name", "X", "--field", "nosuch=1"], None, "invalid"),
    (["customer", "add", "--name", "X", "--field", "tier"], None, "invalid"),
    (["customer", "list", "--limit", "abc"], None, "invalid"),
    (["customer", "list", "--limit", "-1"], None, "invalid"),
    (["customer", "list", "--offset", "x"], None, "invalid"),
    (["customer", "list", "--offset", "-3"], None, "invalid"),
    (["customer", "show", "abc"], None, "invalid"),
    (["customer", "show", "0"], None, "invalid"),
    (["customer", "update", "ALPHA"], None, "invalid"),
    (["customer", "update", "ALPHA", "--name", ""], None, "invalid"),
    (["customer", "update", "ALPHA", "--parent", "ALPHA"], None, "invalid"),
    (["activity", "log", "--customer", "ALPHA", "--kind", "meeting", "--subject", "S"], None, "invalid"),
    (["activity", "log", "--customer", "ALPHA", "--kind", "task", "--subject", "S", "--due", "tomorrow"],
     None, "invalid"),
    (["activity", "log", "--customer", "ALPHA", "--kind", "task", "--subject", "S", "--due", "2026-02-30"],
     None, "invalid"),
    (["activity", "log", "--customer", "ALPHA", "--kind", "note", "--subject", ""], None, "invalid"),
    (["activity", "log", "--kind", "note", "--subject", "S"], None, "invalid"),
    (["field", "add", "size", "--type", "blob"], None, "invalid"),
    (["field", "add", "size", "--type", "choice"], None, "invalid"),
    (["field", "add", "size", "--type", "int", "--choices", "a,b"], None, "invalid"),
    (["field", "add", "Bad-Name", "--type", "text"], None, "invalid"),
    (["field", "add", "name", "--type", "text"], None, "invalid"),
    (["user", "add", "x", "--role", "emperor"], None, "invalid"),
    (["user", "add", "a b", "--role", "rep"], None, "invalid"),
    (["user", "deactivate", "rep1", "--handover", "rep1"], None, "invalid"),
    (["org", "add", "a//b"], None, "invalid"),
    (["org", "add", ""], None, "invalid"),
    (["workspace", "create", "w2", "--admin", "a", "--timezone", "Mars/Olympus"], None, "invalid"),
    (["workspace", "create", "w2", "--admin", "a", "--timezone", ""], None, "invalid"),
    (["workspace", "create", "a b", "--admin", "a"], None, "invalid"),
    (["workspace", "create", "w2", "--admin", "a b"], None, "invalid"),
    (["workspace", "create", "w2", "--admin", "a", "--plugins", "leads,nosuch"], None, "invalid"),
    (["events", "--entity", "customer"], None, "invalid"),
    (["events", "--limit", "1.5"], None, "invalid"),
    (["user", "list", "--limit", "ten"], None, "invalid"),
    (["org", "list", "--offset", "one"], None, "invalid"),
    (["workspace", "list", "--limit", "x"], None, "invalid"),
    (["plugins", "list", "--limit", "x"], None, "invalid"),
    (["field", "list", "--limit", "x"], None, "invalid"),
    (["inbox", "--limit", "x"], "rep1", "invalid"),
    (["inbox"], None, "invalid"),
    # not_found
    (["customer", "show", "999999"], None, "not_found"),
    (["customer", "update", "999999", "--name", "X"], None, "not_found"),
    (["customer", "delete", "999999"], None, "not_found"),
    (["customer", "add", "--name", "X", "--owner", "ghost"], None, "not_found"),
    (["customer", "add", "--name", "X", "--parent", "999999"], None, "not_found"),
    (["activity", "log", "--customer", "999999", "--kind", "note", "--subject", "S"], None, "not_found"),
    (["user", "add", "x", "--role", "rep", "--unit", "nowhere"], None, "not_found"),
    (["user", "deactivate", "ghost"], None, "not_found"),
    (["user", "deactivate", "rep2", "--handover", "ghost"], None, "not_found"),
    (["plugins", "enable", "nosuch"], None, "not_found"),
    (["plugins", "disable", "nosuch"], None, "not_found"),
    # permission_denied
    (["customer", "list"], "ghost", "permission_denied"),
    (["customer", "add", "--name", "X"], "ghost", "permission_denied"),
    (["customer", "delete", "ALPHA"], "rep1", "permission_denied"),
    (["customer", "update", "ALPHA", "--name", "Mine now"], "rep2", "permission_denied"),
    (["customer", "add", "--name", "X", "--owner", "rep2"], "rep1", "permission_denied"),
    (["activity", "log", "--customer", "ALPHA", "--kind", "note", "--subject", "S"], "rep2",
     "permission_denied"),
    (["user", "add", "x", "--role", "rep"], "rep1", "permission_denied"),
    (["user", "deactivate", "rep2"], "mgr", "permission_denied"),
    (["field", "add", "size", "--type", "int"], "rep1", "permission_denied"),
    (["org", "add", "华南"], "rep1", "permission_denied"),
    (["plugins", "disable", "survey"], "rep1", "permission_denied"),
    (["events"], "rep1", "permission_denied"),
    (["events", "--entity", "customer:ALPHA"], "rep2", "permission_denied"),
    (["contact", "add", "--customer", "ALPHA", "--name", "X", "--email", "nope"], None, "invalid"),
    (["contact", "add", "--customer", "abc", "--name", "X"], None, "invalid"),
    (["opportunity", "add", "--customer", "ALPHA", "--name", "D", "--stage", "new", "--amount", "-1"], None,
     "invalid"),
    (["opportunity", "add", "--customer", "ALPHA", "--name", "D", "--stage", "new", "--amount", "abc"], None,
     "invalid"),
    (["opportunity", "add", "--customer", "ALPHA", "--name", "D", "--stage", "new", "--expected-close",
      "31/12/2026"], None, "invalid"),
    (["activity", "log", "--customer", "ALPHA", "--kind", "note", "--subject", "S", "--done", "yesterday"],
     None, "invalid"),
    (["activity", "log", "--entity", "lead", "--kind", "note", "--subject", "S"], None, "invalid"),
    (["activity", "list", "--limit", "x"], None, "invalid"),
    (["customer", "transfer", "ALPHA", "--to", "rep2"], "rep1", "permission_denied"),
    (["contact", "add", "--customer", "999999", "--name", "X"], None, "not_found"),
    # conflict
    (["workspace", "create", "acme", "--admin", "someone"], None, "conflict"),
    (["user", "add", "rep1", "--role", "rep"], None, "conflict"),
    (["field", "add", "tier", "--type", "text"], None, "conflict"),
    (["user", "deactivate", "boss"], None, "conflict"),
    (["user", "deactivate", "boss"], "boss", "conflict"),
]


def _fill(args, crm):
    return [a.replace("ALPHA", str(crm.ids["Alpha Co"])) for a in args]


@pytest.mark.parametrize("args, as_, code", BAD_INPUT, ids=[" ".join(a[0]) + f" [{a[2]}]" for a in BAD_INPUT])
def test_bad_input_is_exit_1_with_its_code_and_writes_nothing(crm, args, as_, code):
    before = crm.snapshot()
    w = "" if args[0] == "workspace" else None
    crm.fails(*_fill(args, crm), as_=as_, w=w, code=code)
    assert crm.snapshot() == before


def test_workspace_commands_need_a_workspace(crm):
    message = crm.fails("customer", "list", w="", code="invalid")
    assert "-w" in message or "KEHU_WORKSPACE" in message
    crm.fails("customer", "list", w="nosuch", code="not_found")
    crm.fails("tick", w="nosuch", code="not_found")


def test_as_an_inactive_user_is_permission_denied(crm):
    crm.ok("user", "deactivate", "rep2")
    crm.fails("customer", "list", as_="rep2", code="permission_denied")
    crm.fails("customer", "add", "--name", "X", as_="rep2", code="permission_denied")
    # a user of another workspace is not a user here
    crm.ok("workspace", "create", "other", "--admin", "stranger", w="")
    crm.fails("customer", "list", as_="stranger", code="permission_denied")


def test_bad_database_url_is_invalid():
    Kehu("nosuch://somewhere").fails("workspace", "list", code="invalid")


@pytest.mark.parametrize("url", ["sqlite:////nonexistent-kehu-dir/sub/kehu.db",
                                 "postgresql://nobody@127.0.0.1:1/kehu"])
def test_unreachable_database_is_one_line(url):
    message = Kehu(url).fails("workspace", "list", code="database")
    assert message.startswith("database error: ")


# --- usage errors: exit 2 -------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["nosuch"],
    ["customer", "nosuch"],
    ["customer", "list", "--bogus"],
    ["--bogus", "customer", "list"],
    ["customer", "show"],
    ["user", "add"],
    ["workspace", "create"],
    ["customer", "add"],                       # missing required option
    ["activity", "log", "--customer", "1"],    # missing --kind and --subject
    ["customer", "show", "1", "2"],            # unexpected extra argument
    ["customer", "list", "--limit"],           # an option without its value
], ids=lambda a: " ".join(a))
def test_usage_errors_exit_2(crm, args):
    before = crm.snapshot()
    crm.usage(*args)
    assert crm.snapshot() == before


def test_misplaced_json_is_a_usage_error_reported_as_json(crm):
    """--json is a global option (before the command); after it, it is unknown, yet the caller wants JSON."""
    result = crm.run("customer", "list", "--json")
    assert result.exit_code == 2
    no_traceback(result)
    payload = json.loads(result.stdout)
    assert payload["code"] == "usage" and "--json" in payload["error"]


# --- --limit / --offset / --csv on every list command ---------------------------------------------------


LISTS = [
    (("workspace", "list"), {"w": ""}, ["id", "name", "timezone", "plugins"]),
    (("org", "list"), {}, ["id", "path", "kind", "users"]),
    (("user", "list"), {}, ["id", "login", "name", "role", "unit", "active"]),
    (("user", "roles"), {}, ["key", "rank", "scope", "permissions", "label"]),
    (("customer", "list"), {}, ["id", "name", "phone", "region", "industry", "source", "owner", "parent"]),
    (("field", "list"), {}, ["entity", "name", "type", "choices", "required"]),
    (("activity", "list"), {}, ["id", "kind", "subject", "customer", "entity", "user", "due_at", "done_at"]),
    (("contact", "list", "--customer", "ALPHA"), {}, ["id", "name", "title", "role", "phone", "email"]),
    (("opportunity", "list"), {},
     ["id", "customer", "name", "amount", "stage", "status", "owner", "expected_close"]),
    (("events",), {}, ["id", "at", "actor", "action", "entity"]),
    (("inbox",), {"as_": "rep1"}, ["id", "at", "kind", "message", "read"]),
    (("plugins", "list"), {}, ["name", "version", "builtin", "enabled", "description"]),
]


@pytest.fixture
def full(crm):
    """acme with at least three rows in every list."""
    alpha = crm.ids["Alpha Co"]
    crm.ok("workspace", "create", "bravo", "--admin", "b", w="")
    crm.ok("workspace", "create", "charlie", "--admin", "c", w="")
    crm.ok("org", "add", "华南")
    crm.ok("field", "add", "size", "--type", "int")
    crm.ok("field", "add", "since", "--type", "date")
    crm.ok("customer", "add", "--name", "Gamma Co", "--region", "华南")
    for n in range(3):
        crm.ok("contact", "add", "--customer", alpha, "--name", f"Contact {n}", "--phone", f"1380000000{n}")
        crm.ok("opportunity", "add", "--customer", alpha, "--name", f"Deal {n}", "--stage", "new",
               "--amount", f"{n}00.5")
        crm.ok("activity", "log", "--customer", alpha, "--kind", "task", "--subject", f"Task {n}",
               "--due", f"2026-11-2{n}T09:00", as_="rep1")
    crm.ok("tick", now="2026-12-01T00:00")
    return crm


@pytest.mark.parametrize("command, options, columns", LISTS, ids=[" ".join(c[0][:2]) for c in LISTS])
def test_list_limit_offset_and_csv(full, command, options, columns):
    command = _fill(command, full)
    everything = full.ok(*command, "--limit", "0", **options)
    assert isinstance(everything, list)
    assert len(everything) >= 3
    assert full.ok(*command, **options) == everything[:100]
    assert full.ok(*command, "--limit", "1", **options) == everything[:1]
    assert full.ok(*command, "--limit", "2", **options) == everything[:2]
    assert full.ok(*command, "--offset", "1", **options) == everything[1:101]
    assert full.ok(*command, "--limit", "1", "--offset", "1", **options) == everything[1:2]
    assert full.ok(*command, "--offset", str(len(everything)), **options) == []

    rows = list(csv.reader(io.StringIO(full.text(*command, "--csv", "--limit", "0", **options))))
    assert rows[0] == columns
    assert len(rows) == 1 + len(everything)
    assert all(len(row) == len(columns) for row in rows)
    first = columns[0]
    assert [row[0] for row in rows[1:]] == [str(item[first]) for item in everything]

    paged = list(csv.reader(io.StringIO(full.text(*command, "--csv", "--limit", "1", "--offset", "1",
                                                  **options))))
    assert paged[0] == columns
    assert [row[0] for row in paged[1:]] == [str(everything[1][first])]

    # --json wins over --csv: still exactly one JSON document
    assert full.ok(*command, "--csv", "--limit", "0", **options) == everything

    for bad in (("--limit", "abc"), ("--limit", "-1"), ("--offset", "x"), ("--offset", "-1")):
        full.fails(*command, *bad, code="invalid", **options)


@pytest.mark.parametrize("command, options, columns", LISTS, ids=[" ".join(c[0][:2]) for c in LISTS])
def test_list_offset_applies_without_limit(full, command, options, columns):
    """--limit 0 means no limit; --offset still skips rows."""
    command = _fill(command, full)
    everything = full.ok(*command, "--limit", "0", **options)
    assert full.ok(*command, "--limit", "0", "--offset", "2", **options) == everything[2:]
    rows = list(csv.reader(io.StringIO(full.text(*command, "--csv", "--limit", "0", "--offset", "2",
                                                 **options))))
    assert len(rows) == 1 + len(everything) - 2


def test_csv_cells_round_trip(full):
    rows = list(csv.DictReader(io.StringIO(full.text("customer", "list", "--csv"))))
    assert [row["name"] for row in rows] == ["Alpha Co", "Beta Co", "Gamma Co"]
    assert rows[0]["owner"] == "rep1" and rows[2]["owner"] == ""
    assert rows[2]["region"] == "华南"
    amounts = [row["amount"] for row in csv.DictReader(io.StringIO(full.text("opportunity", "list", "--csv")))]
    assert amounts == ["0.50", "100.50", "200.50"]


def test_empty_list_csv_has_the_header(crm):
    out = crm.text("contact", "list", "--customer", crm.ids["Beta Co"], "--csv")
    assert list(csv.reader(io.StringIO(out))) == [["id", "name", "title", "role", "phone", "email"]]
    assert crm.ok("contact", "list", "--customer", crm.ids["Beta Co"]) == []


def test_customer_list_default_limit_is_100(crm):
    with kehu.connect(crm.url) as app:
        outcome = app.workspace("acme").customers.create_many([{"name": f"Bulk {n:03d}"} for n in range(120)])
        assert len(outcome["created"]) == 120
    assert len(crm.ok("customer", "list")) == 100
    assert len(crm.ok("customer", "list", "--limit", "0")) == 122
    rest = crm.ok("customer", "list", "--offset", "100")
    assert [c["name"] for c in rest] == [f"Bulk {n:03d}" for n in range(98, 120)]
    rows = list(csv.reader(io.StringIO(crm.text("customer", "list", "--csv"))))
    assert len(rows) == 101


# --- data scope -----------------------------------------------------------------------------------------


def test_rep_sees_only_own_customers(crm):
    alpha, beta = crm.ids["Alpha Co"], crm.ids["Beta Co"]
    assert [c["id"] for c in crm.ok("customer", "list", as_="rep1")] == [alpha]
    assert [c["id"] for c in crm.ok("customer", "list", as_="rep2")] == [beta]
    assert crm.ok("customer", "list", "--search", "Alpha", as_="rep2") == []
    assert crm.ok("customer", "list", "--owner", "rep1", as_="rep2") == []
    assert [c["id"] for c in crm.ok("customer", "list", as_="mgr")] == [alpha, beta]
    assert [c["id"] for c in crm.ok("customer", "list", as_="boss")] == [alpha, beta]
    assert crm.ok("customer", "show", alpha, as_="rep1")["name"] == "Alpha Co"
    result = crm.run("--json", "customer", "show", alpha, as_="rep2")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["code"] in ("permission_denied", "not_found")
    assert "Alpha Co" not in result.output
    result = crm.run("customer", "show", alpha, as_="rep2")
    assert result.exit_code == 1 and "Alpha Co" not in result.output
    assert len(result.stderr.splitlines()) == 1
    crm.fails("customer", "update", alpha, "--region", "X", as_="rep2", code="permission_denied")
    crm.fails("events", "--entity", f"customer:{alpha}", as_="rep2", code="permission_denied")
    assert crm.ok("activity", "list", as_="rep2") == []


def test_rep_cannot_delete_but_manager_can(crm):
    alpha = crm.ids["Alpha Co"]
    crm.fails("customer", "delete", alpha, as_="rep1", code="permission_denied")
    assert crm.ok("customer", "show", alpha, as_="rep1")["id"] == alpha
    assert crm.ok("customer", "delete", alpha, as_="mgr") == {"id": alpha, "deleted": True}
    assert [c["id"] for c in crm.ok("customer", "list", as_="rep1")] == []


def test_rep_may_update_own_customer(crm):
    alpha = crm.ids["Alpha Co"]
    assert crm.ok("customer", "update", alpha, "--industry", "tea", as_="rep1")["industry"] == "tea"


# --- environment variables -------------------------------------------------------------------------------


def test_environment_variables_stand_for_global_options(crm):
    env = {"KEHU_DB": crm.url, "KEHU_WORKSPACE": "acme", "KEHU_USER": "rep1"}
    runner = Kehu(crm.url, workspace="")
    added = runner.ok("customer", "add", "--name", "From env", env=env, db=False)
    assert added["owner"] == "rep1"
    assert [c["name"] for c in runner.ok("customer", "list", env=env, db=False)] == ["Alpha Co", "From env"]
    # an option beats its variable
    assert [c["name"] for c in runner.ok("customer", "list", as_="rep2", env=env, db=False)] == ["Beta Co"]
    crm.ok("workspace", "create", "other", "--admin", "o", w="")
    assert runner.ok("customer", "list", w="other", as_="o", env=env, db=False) == []
    # the variables are checked like the options
    runner.fails("customer", "list", env={**env, "KEHU_USER": "ghost"}, db=False, code="permission_denied")
    runner.fails("customer", "list", env={**env, "KEHU_WORKSPACE": "nosuch"}, db=False, code="not_found")


def test_kehu_db_alone(kehu_db_url, tmp_path, monkeypatch):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # the default sqlite:///kehu.db would land here
    runner = Kehu(kehu_db_url)
    created = runner.ok("workspace", "create", "acme", "--admin", "boss", env={"KEHU_DB": kehu_db_url}, db=False)
    assert created["name"] == "acme"
    assert [w["name"] for w in runner.ok("workspace", "list")] == ["acme"]  # same database through --db
    assert not (tmp_path / "cwd" / "kehu.db").exists()


# --- main(): mapping of every kind of failure -----------------------------------------------------------


def _raising(exception):
    cli = make_cli()

    @cli.command("boom")
    def boom():
        raise exception

    return cli


def test_unexpected_exception_is_one_line_without_traceback():
    cli = _raising(RuntimeError("kaboom\nsecond line"))
    result = CliRunner().invoke(cli, ["boom"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: internal error: RuntimeError: kaboom second line")
    assert "KEHU_DEBUG=1" in lines[0]

    result = CliRunner().invoke(_raising(RuntimeError("kaboom")), ["--json", "boom"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    payload = json.loads(result.stdout)
    assert payload["code"] == "internal"
    assert "RuntimeError: kaboom" in payload["error"]


@pytest.mark.parametrize("value", ["1", "yes"])
def test_kehu_debug_shows_the_traceback(value):
    result = CliRunner().invoke(_raising(RuntimeError("kaboom")), ["boom"], env={"KEHU_DEBUG": value},
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: kaboom" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: internal error: RuntimeError: kaboom")


def test_kehu_debug_0_hides_the_traceback():
    result = CliRunner().invoke(_raising(RuntimeError("kaboom")), ["boom"], env={"KEHU_DEBUG": "0"},
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize("exception, code", [
    (kehu.Invalid("bad value"), "invalid"),
    (kehu.NotFound("no such thing"), "not_found"),
    (kehu.PermissionDenied("not yours"), "permission_denied"),
    (kehu.PluginDisabled("plugin x is not enabled in workspace y"), "plugin_disabled"),
    (kehu.Conflict("taken"), "conflict"),
    (Vetoed("vetoed: no"), "vetoed"),
    (kehu.KehuError("custom", code="my_code"), "my_code"),
    (peewee.IntegrityError("UNIQUE constraint failed"), "conflict"),
    (click.Abort(), "aborted"),
])
def test_errors_map_to_codes(exception, code):
    result = CliRunner().invoke(_raising(exception), ["--json", "boom"], catch_exceptions=False)
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["code"] == code
    result = CliRunner().invoke(_raising(exception), ["boom"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: ")


def test_a_multi_line_kehu_error_is_reported_on_one_line():
    result = CliRunner().invoke(_raising(kehu.Invalid("line one\nline two")), ["boom"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr == "Error: line one line two\n"


def test_keyboard_interrupt_is_quiet():
    result = CliRunner().invoke(_raising(KeyboardInterrupt()), ["boom"], catch_exceptions=False)
    assert result.exit_code != 0
    assert "Traceback" not in result.output


@pytest.mark.parametrize("code", [0, 3])
def test_a_command_exit_code_is_kept(code):
    cli = make_cli()

    @cli.command("leave")
    @click.pass_context
    def leave(ctx):
        click.echo("bye")
        ctx.exit(code)

    result = CliRunner().invoke(cli, ["leave"], catch_exceptions=False)
    assert result.exit_code == code
    assert result.stdout == "bye\n"


# --- the installed console script -----------------------------------------------------------------------


def _script():
    path = shutil.which("kehu")
    if path is None:
        pytest.fail("the `kehu` console script is not on PATH: install the package (pip install -e .) "
                    "so setup.cfg's console_scripts entry point creates it")
    return path


def test_console_script_smoke(kehu_db_url, tmp_path):
    script = _script()
    env = {key: value for key, value in os.environ.items() if key not in KEHU_ENV}

    def run(*args):
        return subprocess.run([script, "--db", kehu_db_url, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    done = run("workspace", "create", "acme", "--admin", "boss")
    assert done.returncode == 0, done.stderr
    assert "created workspace acme" in done.stdout

    done = run("-w", "acme", "--json", "customer", "add", "--name", "Suzhou Silk Co.", "--region", "华东")
    assert done.returncode == 0, done.stderr
    customer = json.loads(done.stdout)
    assert isinstance(customer["id"], int) and customer["region"] == "华东"

    done = run("-w", "acme", "customer", "show", "999999")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == ["Error: no customer 999999"]

    done = run("-w", "acme", "--json", "activity", "log", "--customer", str(customer["id"]), "--kind",
               "meeting", "--subject", "x")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    payload = json.loads(done.stdout)
    assert payload["code"] == "invalid" and set(payload) == {"error", "code"}

    done = run("--json", "nosuch")
    assert done.returncode == 2
    assert json.loads(done.stdout)["code"] == "usage"

    done = run("-w", "acme", "--json", "customer", "list")
    assert [c["name"] for c in json.loads(done.stdout)] == ["Suzhou Silk Co."]
