"""``kehu leads dupes``: groups of leads and customers sharing a mobile, an e-mail, a fixed line or a company name,
listed (never merged), within the acting user's data scope.
"""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from kehu.cli import make_cli
from kehu.core.db import database
from kehu.plugins.leads.dupes import possible_duplicates
from kehu.plugins.leads.models import IN_POOL, Lead

KEHU_ENV = ("KEHU_DB", "KEHU_WORKSPACE", "KEHU_USER", "KEHU_DEBUG")
SWITCHBOARD = "+8657187654321"


@pytest.fixture(autouse=True)
def _no_kehu_environment(monkeypatch):
    for name in KEHU_ENV:
        monkeypatch.delenv(name, raising=False)


def dupes(crm, login="admin", **options):
    return crm.as_(login).leads.dupes(**options)


def group(groups, kind, key):
    found = [g for g in groups if g["kind"] == kind and g["key"] == key]
    assert len(found) <= 1, found
    return found[0] if found else None


def lead(crm, name, phone=None, company=None, email=None, pool=None, owner=None):
    outcome = crm.admin().leads.add_many([{"name": name, "phone": phone, "company": company, "email": email,
                                            "pool": pool, "owner": owner}])
    assert not outcome["rejected"], outcome["rejected"]
    return outcome["created"][0]["id"]


def customer(crm, name, phone=None, email=None, owner=None):
    return crm.admin().customers.create(name=name, phone=phone, email=email, owner=owner)["id"]


def run_cli(crm, *args, as_="admin"):
    argv = ["--db", crm.app.url, "-w", "acme", "--as", as_, *args]
    try:
        return CliRunner().invoke(make_cli(), argv, catch_exceptions=False)
    finally:
        database.initialize(crm.app.db)


# --- possible duplicates: listed, never merged ----------------------------------------------------------------


def test_two_leads_sharing_a_landline_are_possible_duplicates_and_both_are_kept(crm):
    a = lead(crm, "张三", "0571-87654321", "杭州茶叶有限公司")
    b = lead(crm, "李四", "+86 571 8765 4321", "宁波五金有限公司")  # another company, one switchboard
    other = lead(crm, "王五", "0574-88888888", "温州鞋业")

    groups = dupes(crm)

    assert groups == [{"key": SWITCHBOARD, "kind": "fixed_line", "leads": [a, b], "customers": []}]
    assert {x.id for x in Lead.select()} >= {a, b, other}
    assert all(crm.lead(i).state == IN_POOL for i in (a, b))


def test_a_customer_sharing_the_landline_joins_the_group(crm):
    a = lead(crm, "张三", "0571-87654321")
    c1 = customer(crm, "杭州茶叶有限公司", "(0571) 8765-4321")
    c2 = customer(crm, "杭州茶叶分部", "0571-87654321#8001")  # an extension of the same switchboard
    customer(crm, "另一家", "0571-87654322")
    assert dupes(crm) == [{"key": SWITCHBOARD, "kind": "fixed_line", "leads": [a], "customers": [c1, c2]}]


def test_two_leads_sharing_a_company_name_are_possible_duplicates(crm):
    a = lead(crm, "张三", "13800138000", "杭州茶叶有限公司")
    b = lead(crm, "李四", "13800138001", "杭州茶叶 有限公司")
    c = customer(crm, "杭州茶叶（有限公司）")
    lead(crm, "王五", "13800138002", "杭州茶叶机械有限公司")
    assert dupes(crm) == [{"key": "杭州茶叶", "kind": "company", "leads": [a, b], "customers": [c]}]


# --- exact duplicates -------------------------------------------------------------------------------------------


def test_exact_duplicates_by_mobile_and_email_come_first(crm):
    a = lead(crm, "张三", "138 0013 8000", "甲公司", email="zs@tea.cn")
    c = customer(crm, "张三的公司", "+86 13800138000", email="ZS@tea.cn")
    b = lead(crm, "李四", "0571-87654321", "乙公司")
    d = lead(crm, "赵六", "0571-87654321", "丙公司")
    # Legacy data: two leads with one e-mail (add_leads would refuse the second).
    e = lead(crm, "钱一", None, "丁公司", email="old@x.cn")
    f = lead(crm, "孙二", None, "戊公司", email="other@x.cn")
    Lead.update(email="old@x.cn", email_key="old@x.cn").where(Lead.id == f).execute()

    groups = dupes(crm)

    assert [(g["kind"], g["key"]) for g in groups] == [
        ("mobile", "+8613800138000"), ("email", "old@x.cn"), ("email", "zs@tea.cn"),
        ("fixed_line", SWITCHBOARD)]
    assert group(groups, "mobile", "+8613800138000") == {"key": "+8613800138000", "kind": "mobile",
                                                         "leads": [a], "customers": [c]}
    assert group(groups, "email", "old@x.cn")["leads"] == [e, f]
    assert group(groups, "fixed_line", SWITCHBOARD)["leads"] == [b, d]


def test_limit_and_offset_page_over_groups(crm):
    for i in range(3):
        lead(crm, f"甲{i}", f"0571-8765432{i}")
        lead(crm, f"乙{i}", f"0571-8765432{i}")
    keys = [g["key"] for g in dupes(crm, limit=0)]
    assert keys == [f"+86571876543{20 + i}" for i in range(3)]
    assert [g["key"] for g in dupes(crm, limit=2)] == keys[:2]
    assert [g["key"] for g in dupes(crm, limit=2, offset=2)] == keys[2:]
    assert dupes(crm, offset=5) == []


def test_converted_leads_and_deleted_customers_are_left_out(crm):
    converted = lead(crm, "张三", "0571-87654321", "杭州茶叶有限公司")
    crm.as_("li").leads.claim(converted)
    crm.as_("li").leads.convert(converted)  # creates the customer from the lead: not a duplicate of it
    assert dupes(crm) == []
    gone = customer(crm, "另一家", "0571-87654322")
    lead(crm, "李四", "0571-87654322")
    crm.admin().customers.delete(gone)
    assert dupes(crm) == []


# --- scope -----------------------------------------------------------------------------------------------------


def test_data_scope_is_respected(crm):
    li_lead = lead(crm, "李的线索", "0571-87654321", "甲", owner="li")
    wang_lead = lead(crm, "王的线索", "0571-87654321", "乙", owner="wang")
    p1 = lead(crm, "公海一", "0571-80000000", "丙")
    p2 = lead(crm, "公海二", "0571-80000000", "丁")
    n1 = lead(crm, "北区一", "0571-81111111", pool="north")
    n2 = lead(crm, "北区二", "0571-81111111", pool="north")
    wang_customer = customer(crm, "王的客户", "0571-80000000", owner="wang")

    everyone = dupes(crm)
    assert group(everyone, "fixed_line", SWITCHBOARD)["leads"] == [li_lead, wang_lead]
    assert group(everyone, "fixed_line", "+8657180000000") == {
        "key": "+8657180000000", "kind": "fixed_line", "leads": [p1, p2], "customers": [wang_customer]}
    assert group(everyone, "fixed_line", "+8657181111111")["leads"] == [n1, n2]

    # li sees his own lead and the pools he may claim from: not wang's lead or customer, not the north pool.
    li = dupes(crm, "li")
    assert li == [{"key": "+8657180000000", "kind": "fixed_line", "leads": [p1, p2], "customers": []}]
    # m1 manages li and wang's unit: both holdings, wang's customer; still not the north team's pool.
    m1 = dupes(crm, "m1")
    assert [(g["key"], g["leads"], g["customers"]) for g in m1] == [
        ("+8657180000000", [p1, p2], [wang_customer]), (SWITCHBOARD, [li_lead, wang_lead], [])]
    # sun (north) sees the north pool's pair, not the east holdings.
    assert [g["key"] for g in dupes(crm, "sun")] == ["+8657180000000", "+8657181111111"]


def test_other_workspaces_never_mix_in(crm):
    lead(crm, "张三", "0571-87654321")
    crm.as_("root", workspace="other").leads.add(name="别家", phone="0571-87654321")
    assert dupes(crm) == []


# --- the command --------------------------------------------------------------------------------------------------


def test_the_command_json_table_and_csv(crm):
    a = lead(crm, "张三", "0571-87654321")
    b = lead(crm, "李四", "0571-87654321")

    result = run_cli(crm, "--json", "leads", "dupes")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"key": SWITCHBOARD, "kind": "fixed_line", "leads": [a, b],
                                          "customers": []}]

    text = run_cli(crm, "leads", "dupes")
    assert text.exit_code == 0 and "fixed_line" in text.stdout and SWITCHBOARD in text.stdout

    exported = run_cli(crm, "leads", "dupes", "--csv")
    assert list(csv.reader(io.StringIO(exported.stdout))) == [
        ["kind", "key", "leads", "customers"], ["fixed_line", SWITCHBOARD, f"[{a}, {b}]", "[]"]]

    assert json.loads(run_cli(crm, "--json", "leads", "dupes", "--offset", "1").stdout) == []
    bad = run_cli(crm, "--json", "leads", "dupes", "--limit", "many")
    assert bad.exit_code == 1 and json.loads(bad.stdout)["code"] == "invalid"


def test_the_service_is_set_based(crm):
    """A handful of queries whatever the number of rows: no Python loop over leads."""
    for i in range(30):
        lead(crm, f"甲{i}", f"0571-876543{i:02d}", f"公司{i % 3}")
        lead(crm, f"乙{i}", f"0571-876543{i:02d}")
    context = crm.admin().context
    executed = []
    original = database.obj.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        executed.append(sql)
        return original(sql, params, *args, **kwargs)

    database.obj.execute_sql = counting
    try:
        groups = possible_duplicates(context, limit=0)
    finally:
        del database.obj.execute_sql
    assert len(groups) == 33
    assert len(executed) <= 4, executed
