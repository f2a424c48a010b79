"""``kehu leads ...`` end to end: CliRunner on ``kehu.cli.make_cli()`` with ``--db``, each command's happy path
in ``--json`` and text, and the error codes (exit 1; one JSON object with ``--json``, else one ``Error:`` line).
"""


import pytest

from kehu.testing import KehuCli

from .conftest import DEFAULT_RULES, EAST, days, utc_iso

KEHU_ENV = ("KEHU_DB", "KEHU_WORKSPACE", "KEHU_USER", "KEHU_DEBUG")
T0_TEXT = "2025-03-03T10:00:00"  # :data:`T0`, zoneless: Shanghai time


@pytest.fixture(autouse=True)
def _no_kehu_environment(monkeypatch):
    for name in KEHU_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def kehu(crm):
    return KehuCli(crm.app, workspace="acme", now=T0_TEXT)


def add(kehu, name="张三", phone="13900000001", **options):
    args = ["leads", "add", "--name", name, "--phone", phone]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", value]
    return kehu.ok(*args, as_="admin")["id"]


# --- pools ---------------------------------------------------------------------------------------------


def test_pool_create_set_and_list(kehu):
    made = kehu.ok("leads", "pool", "create", "telesales", "--max-held", "5", "--team", EAST, as_="m1")
    assert made["max_held"] == 5 and made["daily_claims"] == 20 and made["team"] == EAST
    changed = kehu.ok("leads", "pool", "set", "telesales", "--cooldown-hours", "1", "--warn-days", "0", as_="m1")
    assert {k: changed[k] for k in DEFAULT_RULES} == {**DEFAULT_RULES, "max_held": 5, "cooldown_hours": 1,
                                                      "warn_days": 0}
    assert changed["team"] == EAST
    every = kehu.ok("leads", "pool", "set", "telesales", "--max-held", "6", "--daily-claims", "7",
                    "--protect-days", "8", "--followup-days", "9", "--warn-days", "1", "--cooldown-hours", "2",
                    "--team", "总公司/华北", as_="admin")
    assert {k: every[k] for k in DEFAULT_RULES} == {"max_held": 6, "daily_claims": 7, "protect_days": 8,
                                                    "followup_days": 9, "warn_days": 1, "cooldown_hours": 2}
    assert every["team"] == "总公司/华北"
    listed = {p["name"]: p for p in kehu.ok("leads", "pool", "list", as_="admin")}
    assert listed["telesales"] == every
    assert "telesales" in kehu.text("leads", "pool", "list", as_="admin")


def test_pool_errors(kehu):
    kehu.fails("leads", "pool", "set", "public", "--max-held", "-1", as_="admin", code="invalid")
    kehu.fails("leads", "pool", "set", "public", "--max-held", "many", as_="admin", code="invalid")
    kehu.fails("leads", "pool", "set", "public", as_="admin", code="invalid")
    kehu.fails("leads", "pool", "set", "nope", "--max-held", "3", as_="admin", code="not_found")
    kehu.fails("leads", "pool", "create", "public", as_="admin", code="conflict")
    kehu.fails("leads", "pool", "create", "mine", as_="li", code="permission_denied")
    assert kehu.ok("leads", "pool", "list", as_="admin")[1]["max_held"] == 100


# --- the life of a lead ---------------------------------------------------------------------------------


def test_claim_follow_up_convert_and_history(kehu, crm):
    lead = add(kehu)
    claimed = kehu.ok("leads", "claim", lead, as_="li")
    assert claimed == {"lead": lead, "holder": "li", "protected_until": utc_iso(days(30)),
                       "followup_due": utc_iso(days(7))}
    followed = kehu.ok("leads", "follow-up", lead, "--notes", "聊了报价", as_="li", now="2025-03-05T10:00:00")
    assert followed["followup_due"] == utc_iso(days(9)) and followed["activity"]
    converted = kehu.ok("leads", "convert", lead, as_="li", now="2025-03-06T10:00:00")
    assert converted["lead"] == lead and converted["holder"] == "li" and converted["linked_existing"] is False
    customer = kehu.ok("customer", "show", converted["customer"], as_="li")
    assert customer["owner"] == "li"
    history = kehu.ok("leads", "history", lead, as_="li")
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        (None, None, "added"), (None, "li", "claimed"), ("li", "li", "converted")]
    text = kehu.text("leads", "history", lead, as_="li")
    assert "claimed" in text and "converted" in text


def test_release_with_a_reason_and_transfer(kehu):
    lead = add(kehu)
    kehu.ok("leads", "claim", lead, as_="li")
    released = kehu.ok("leads", "release", lead, "--reason", "空号", as_="li")
    assert (released["state"], released["holder"]) == ("in_pool", None)
    assert kehu.ok("leads", "history", lead, as_="admin")[-1]["note"] == "空号"
    moved = kehu.ok("leads", "transfer", lead, "--to", "wang", as_="m1")
    assert (moved["state"], moved["holder"]) == ("held", "wang")
    assert kehu.ok("leads", "show", lead, as_="wang")["holder"] == "wang"


def test_list_filters(kehu):
    mine = add(kehu, "甲", "13900000001")
    other = add(kehu, "乙", "13900000002")
    east = add(kehu, "丙", "13900000003", pool="east")
    kehu.ok("leads", "claim", mine, as_="li")
    assert [x["id"] for x in kehu.ok("leads", "list", "--mine", as_="li")] == [mine]
    assert [x["id"] for x in kehu.ok("leads", "list", "--state", "in_pool", as_="li")] == [other, east]
    assert [x["id"] for x in kehu.ok("leads", "list", "--pool", "east", as_="li")] == [east]
    assert kehu.ok("leads", "list", "--pool", "east", as_="sun") == []
    table = kehu.text("leads", "list", "--mine", as_="li")
    assert "甲" in table and "乙" not in table
    kehu.fails("leads", "list", "--state", "lost", as_="li", code="invalid")
    kehu.fails("leads", "list", "--pool", "nope", as_="li", code="not_found")


def test_sweep_and_tick(kehu):
    lead = add(kehu)
    kehu.ok("leads", "claim", lead, as_="li")
    assert kehu.ok("leads", "sweep", now="2025-03-08T10:00:00") == {"recycled": 0, "warned": 1}
    assert kehu.text("leads", "sweep", now="2025-03-08T10:00:00").strip() == "recycled 0, warned 0"
    ticked = kehu.ok("tick", now="2025-03-10T10:00:00")
    job = next(j for j in ticked[0]["jobs"] if j["job"] == "leads.sweep")
    assert job["result"] == {"recycled": 1, "warned": 0}
    assert kehu.ok("leads", "show", lead, as_="admin")["state"] == "in_pool"
    inbox = kehu.ok("inbox", as_="li")
    assert sorted(n["kind"] for n in inbox) == ["lead_deadline", "lead_recycled"]


def test_user_deactivate_hands_leads_back_or_over(kehu):
    first, second = add(kehu, "甲", "13900000001"), add(kehu, "乙", "13900000002")
    kehu.ok("leads", "claim", first, as_="li")
    kehu.ok("leads", "claim", second, as_="wang")
    kehu.ok("user", "deactivate", "li", as_="admin")
    assert kehu.ok("leads", "show", first, as_="admin")["state"] == "in_pool"
    kehu.ok("user", "deactivate", "wang", "--handover", "zhao", as_="admin")
    assert kehu.ok("leads", "show", second, as_="admin")["holder"] == "zhao"
    assert kehu.ok("leads", "history", second, as_="admin")[-1]["reason"] == "handover"


# --- error codes -------------------------------------------------------------------------------------------


def test_claim_error_codes(kehu):
    kehu.ok("leads", "pool", "set", "public", "--max-held", "1", "--daily-claims", "2", as_="admin")
    a, b, c = (add(kehu, n, f"1390000000{i}") for i, n in enumerate("甲乙丙", 1))
    kehu.fails("leads", "claim", 999999, as_="li", code="not_found")
    kehu.fails("leads", "claim", "x1", as_="li", code="invalid")
    kehu.ok("leads", "claim", a, as_="li")
    kehu.fails("leads", "claim", a, as_="wang", code="already_held")
    message = kehu.fails("leads", "claim", b, as_="li", code="claim_limit_held")
    assert "1" in message
    kehu.ok("leads", "release", a, as_="li")
    kehu.fails("leads", "claim", a, as_="li", now="2025-03-03T21:59:59", code="cooldown")
    kehu.ok("leads", "claim", b, as_="li")
    kehu.ok("leads", "release", b, as_="li")
    kehu.fails("leads", "claim", c, as_="li", code="claim_limit_daily")
    assert kehu.ok("leads", "claim", c, as_="li", now="2025-03-04T00:00:00")["holder"] == "li"
    kehu.fails("leads", "claim", b, as_="li", now="2025-03-04T00:00:00", code="claim_limit_held")


def test_permission_and_state_errors(kehu):
    lead = add(kehu)
    kehu.ok("leads", "claim", lead, as_="li")
    kehu.fails("leads", "transfer", lead, "--to", "wang", as_="li", code="permission_denied")
    kehu.fails("leads", "transfer", lead, "--to", "sun", as_="m1", code="permission_denied")
    kehu.fails("leads", "show", lead, as_="wang", code="permission_denied")
    kehu.fails("leads", "release", lead, as_="wang", code="permission_denied")
    kehu.fails("leads", "follow-up", lead, "--notes", "x", as_="wang", code="permission_denied")
    kehu.fails("leads", "convert", lead, as_="wang", code="permission_denied")
    kehu.fails("leads", "history", lead, as_="zhao", code="permission_denied")
    in_pool = add(kehu, "乙", "13900000002")
    kehu.fails("leads", "release", in_pool, as_="m1", code="conflict")
    kehu.fails("leads", "convert", in_pool, as_="m1", code="conflict")
    kehu.fails("leads", "show", 999999, as_="li", code="not_found")
    kehu.fails("leads", "claim", lead, code="invalid")  # no --as: a claim needs a user
    kehu.fails("leads", "claim", lead, as_="li", now="yesterday", code="invalid")
    assert kehu.ok("leads", "show", lead, as_="li")["holder"] == "li"


def test_usage_errors_exit_2(kehu):
    kehu.usage("leads", "transfer", "1", as_="m1")  # --to is required
    kehu.usage("leads", "claim", as_="li")
    kehu.usage("leads", "follow-up", "1", as_="li")  # --notes is required
    kehu.usage("leads", "pool", "set", "public", "--bogus", "1", as_="admin")


def test_a_disabled_plugin_answers_with_its_name(kehu):
    kehu.ok("plugins", "disable", "leads", as_="admin")
    message = kehu.fails("leads", "list", as_="li", code="plugin_disabled")
    assert "leads" in message and "acme" in message
