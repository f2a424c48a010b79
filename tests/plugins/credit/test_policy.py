"""The credit policy document: defaults from DOMAIN.md §3, validation, per-workspace overrides, storage."""

import json
from decimal import Decimal

import pytest

import kehu
from kehu.core.db import database
from kehu.plugins.credit import ledger
from kehu.plugins.credit.models import NEW_IN_0002, CreditPolicy
from kehu.plugins.credit.policy import DEFAULT, DEFAULT_POLICY, load_policy, merge, policy_for
from kehu.plugins.credit.scoring import parse_amount, parse_rate, score, weighted_hundredths

def test_the_default_policy_is_domain_md_section_3():
    assert DEFAULT.criteria["sales"].bands[0].threshold == Decimal("10000000")
    assert {name: c.weight for name, c in DEFAULT.criteria.items()} == {"sales": 30, "collection": 25,
                                                                       "receivables": 30}
    assert DEFAULT.strategic_weight == 15
    assert DEFAULT.grade_names == ("A", "B", "C")
    assert (DEFAULT.terms["A"].limit, DEFAULT.terms["B"].limit, DEFAULT.terms["C"].credit) == \
        (Decimal("2000000"), Decimal("1000000"), False)
    assert DEFAULT.collection_days == 50 and DEFAULT.late_fee_per_day == Decimal("0.0002")
    assert DEFAULT.approvals["C"].first == ("vp",)


@pytest.mark.parametrize("points, grade", [
    ((6, 2, 8, 2), "B"),   # E11: exactly 5.00 — binary floating point says 4.999… and C
    ((8, 8, 8, 8), "A"),   # E3: exactly 8.00
    ((4, 4, 2, 4), "C"),   # E3: 3.40
    ((2, 10, 10, 10), "B"),  # E3: 7.60, a small perfect payer never reaches A
])
def test_grade_thresholds_are_exact_and_inclusive(points, grade):
    hundredths = weighted_hundredths(DEFAULT, dict(zip(("sales", "collection", "receivables", "strategic"),
                                                       points)))
    assert DEFAULT.grade_for(hundredths) == grade


def test_e1_scores_7_40_and_grade_b():
    result = score(DEFAULT, Decimal("9000000"), parse_rate("85%"), Decimal("500000"), "key")
    assert (result.points, str(result.score), result.grade, result.credit_limit, result.credit_days) == (
        {"sales": 8, "collection": 8, "receivables": 6, "strategic": 8}, "7.40", "B", Decimal("1000000"), 50)


@pytest.mark.parametrize("text, value", [("0.85", Decimal("0.85")), ("85%", Decimal("0.85")),
                                         ("100%", Decimal("1")), ("1.2", Decimal("1.2"))])
def test_rates_are_fractions_or_percentages(text, value):
    assert parse_rate(text) == value


@pytest.mark.parametrize("text", ["abc", "-1", "85%%", "nan", ""])
def test_bad_rates_are_invalid(text):
    with pytest.raises(kehu.Invalid):
        parse_rate(text)


@pytest.mark.parametrize("text, value", [("1200000", "1200000.00"), ("1,200,000.5", "1200000.50"),
                                         ("120万", "1200000.00")])
def test_amounts_read_as_yuan(text, value):
    assert str(parse_amount(text)) == value


@pytest.mark.parametrize("text", ["12.345", "-5", "1e400", "x"])
def test_bad_amounts_are_invalid(text):
    with pytest.raises(kehu.Invalid):
        parse_amount(text)


def test_merge_lays_objects_over_the_default_and_replaces_lists():
    merged = merge(DEFAULT_POLICY, {"terms": {"B": {"limit": "1500000"}}, "grades": [["A", "9"], ["B", "6"]]})
    assert merged["terms"]["B"] == {"credit": True, "limit": "1500000", "days": 50}
    assert merged["terms"]["A"] == DEFAULT_POLICY["terms"]["A"]
    assert merged["grades"] == [["A", "9"], ["B", "6"]]
    assert DEFAULT_POLICY["terms"]["B"]["limit"] == "1000000"  # the default itself is untouched


@pytest.mark.parametrize("override, message", [
    ({"criteria": {"sales": {"weight": 40}}}, "add up to 110"),
    ({"criteria": {"sales": {"bands": [["1000000", 4], ["10000000", 10]]}}}, "descending"),
    ({"grades": [["A", "5"], ["B", "8"]]}, "descending"),
    ({"grades": [["A", "8.005"], ["B", "5"]]}, "two decimals"),
    ({"terms": {"A": {"limit": "lots"}}}, "not a decimal"),
    ({"approvals": {"A": {"above": "cfo"}}}, "'cfo'"),
    ({"late_fee_per_day": "2"}, "below 1"),
    ({"collection_days": -1}, "collection_days"),
])
def test_invalid_documents_are_refused_naming_the_problem(override, message):
    with pytest.raises(kehu.Invalid) as caught:
        load_policy(merge(DEFAULT_POLICY, override))
    assert message in str(caught.value)


def test_a_workspace_override_is_stored_validated_and_audited(crm):
    finance = crm.as_("finance")
    merged = finance.credit.policy_set({"collection_days": 60, "terms": {"B": {"limit": "1500000"}}})
    assert merged["collection_days"] == 60 and merged["terms"]["B"]["limit"] == "1500000"
    assert finance.credit.policy()["collection_days"] == 60
    assert policy_for(finance.context).terms["B"].limit == Decimal("1500000")
    assert crm.events("credit.policy_set")[-1].after == {"collection_days": 60,
                                                         "terms": {"B": {"limit": "1500000"}}}
    # Other workspaces keep the default.
    assert crm.as_("root", workspace="other").credit.policy()["collection_days"] == 50


def test_an_invalid_override_stores_nothing(crm):
    finance = crm.as_("finance")
    finance.credit.policy_set({"collection_days": 60})
    with pytest.raises(kehu.Invalid):
        finance.credit.policy_set({"collection_days": 45, "grades": [["A", "x"]]})
    assert finance.credit.policy()["collection_days"] == 60


@pytest.mark.parametrize("login", ["li", "m1", "vp"])
def test_only_gm_finance_and_admin_change_the_policy(crm, login):
    with pytest.raises(kehu.PermissionDenied):
        crm.as_(login).credit.policy_set({"collection_days": 60})


def test_policy_commands_show_and_set_from_a_file(crm, tmp_path):
    cli = crm.cli("gm")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"late_fee_per_day": "0.0003"}), encoding="utf-8")
    assert cli.ok("credit", "policy", "set", path)["late_fee_per_day"] == "0.0003"
    assert cli.ok("credit", "policy", "show")["late_fee_per_day"] == "0.0003"
    path.write_text("{not json", encoding="utf-8")
    assert "not JSON" in cli.fails("credit", "policy", "set", path)
    assert "cannot read" in cli.fails("credit", "policy", "set", tmp_path / "missing.json")
    path.write_bytes(b"\xff\xfe\x00binary")
    assert "not UTF-8" in cli.fails("credit", "policy", "set", path)
    assert cli.ok("credit", "policy", "show")["late_fee_per_day"] == "0.0003"  # the bad files changed nothing


def test_a_customer_with_open_receivables_cannot_be_deleted(crm):
    admin = crm.as_("admin")
    with database.atomic():
        ledger.record_sale(admin.context, policy_for(admin.context), crm.customer("big"), Decimal("1000"),
                           ledger.parse_date("2025-06-01"))
    with pytest.raises(kehu.Vetoed) as caught:
        admin.customers.delete(crm.customer("big"))
    assert "open receivables" in str(caught.value)
    admin.customers.delete(crm.customer("mid"))  # no ledger: deleted as before


def test_an_older_database_gets_the_ledger_tables_by_migration(crm):
    # A database from before the ledger: the credit plugin's tables were its baseline only.
    app = crm.app
    CreditPolicy.select().count()  # the baseline table exists and stays
    app.db.drop_tables(list(reversed(NEW_IN_0002)))
    app.db.execute_sql("DELETE FROM kehu_migrations_credit WHERE name = '0002_ledger'")
    status = {row["plugin"]: row for row in app.schema_status()}["credit"]
    assert status["pending"] == ["0002_ledger"]
    done = {row["plugin"]: row["applied"] for row in app.upgrade()}
    assert done["credit"] == ["0002_ledger"]
    assert all(model.table_exists() for model in NEW_IN_0002)
