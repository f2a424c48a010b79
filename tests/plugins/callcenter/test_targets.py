"""Targets: the cascade with its over-planning warning and gap, progress on a hand-computed fixture, who may set and
see what, workspace isolation, and the CLI (happy paths and bad input)."""

import datetime as dt

import pytest

from kehu.errors import NotFound, PermissionDenied

from .conftest import EAST, EAST_1, EAST_2, NORTH, NORTH_1, SHANGHAI

TOP = "总公司"
MARCH = "2025-03"


def at(month, day, hour=10, minute=0, second=0):
    return dt.datetime(2025, month, day, hour, minute, second, tzinfo=SHANGHAI)


def won(crm, login, customer, amount, when, status="won"):
    """An opportunity of ``login`` on ``customer``, opened a month before and closed (``status``) at ``when``."""
    opportunity = crm.as_(login, at(2, 1)).opportunities.create(crm.customer(customer), "deal", "商机",
                                                                amount=amount)
    crm.as_(login, when).opportunities.update(opportunity["id"], status=status)


def activity(crm, login, kind, customer, when, **extra):
    crm.as_(login, when).activities.log(kind, f"{kind} by {login}", customer=crm.customer(customer), **extra)


@pytest.fixture
def march(crm):
    """The hand-computed fixture: targets from the GM down, and March's deals, calls and visits.

    Achieved in March (Shanghai): li 150,000.50 (100,000 + 50,000.50 at 03-31 23:59:59; not the February or
    April deals), 3 calls (not February's, not a callback still to do); wang 30,000 (not the lost one), 1 call,
    1 visit; zhao 2 calls (an open opportunity does not count); sun 70,000 and 1 visit.
    """
    gm, d1, m1 = crm.as_("gm"), crm.as_("d1"), crm.as_("m1")
    gm.targets.set(MARCH, "500000", unit=TOP, calls=30, visits=6)
    gm.targets.set(MARCH, "300000", unit=EAST, calls=20, visits=4)
    gm.targets.set(MARCH, "150000", unit=NORTH)
    d1.targets.set(MARCH, "200000", unit=EAST_1, calls=12)
    d1.targets.set(MARCH, "90000", unit=EAST_2)
    m1.targets.set(MARCH, "120000", rep="li", calls=5)
    warned = m1.targets.set(MARCH, "90000", rep="wang", calls=3, visits=2)
    won(crm, "li", "tea", "100000", at(3, 10))
    won(crm, "li", "milk", "50000.50", at(3, 31, 23, 59, 59))
    won(crm, "li", "tea", "80000", at(2, 28, 23, 59, 59))
    won(crm, "li", "milk", "20000", at(4, 1, 0, 0, 0))
    won(crm, "wang", "shop", "30000", at(3, 5))
    won(crm, "wang", "shop", "999", at(3, 6), status="lost")
    crm.as_("zhao").opportunities.create(crm.customer("mart"), "open deal", "商机", amount="10000")
    won(crm, "sun", "plant", "70000", at(3, 20))
    for day in (3, 4, 5):
        activity(crm, "li", "call", "tea", at(3, day))
    activity(crm, "li", "call", "tea", at(2, 27))
    activity(crm, "li", "call", "milk", at(3, 6), due="2025-03-20T10:00")  # a callback still to make
    activity(crm, "wang", "call", "shop", at(3, 6))
    activity(crm, "wang", "visit", "shop", at(3, 6, 15))
    activity(crm, "zhao", "call", "mart", at(3, 7))
    activity(crm, "zhao", "call", "mart", at(3, 8))
    activity(crm, "sun", "visit", "plant", at(3, 9))
    return warned


def rows_by_name(result):
    return {row["rep"] or row["unit"]: row for row in result["rows"]}


def figures(row, measure):
    return tuple(row[f"{key}_{measure}"] for key in ("target", "achieved", "percent", "gap"))


def test_children_above_the_parent_warn_and_below_show_the_gap(crm, march):
    assert march["amount"] == "90000.00" and march["set_by"] == "m1"
    [warning] = march["warnings"]
    assert (warning["unit"], warning["measure"], warning["children"], warning["target"]) == (
        EAST_1, "amount", "210000.00", "200000.00")
    assert "210000.00" in warning["message"] and "200000.00" in warning["message"]
    rows = rows_by_name(crm.as_("gm").targets.progress(MARCH))
    assert (rows[TOP]["children_amount"], rows[TOP]["unassigned_amount"]) == ("450000.00", "50000.00")
    assert (rows[TOP]["children_calls"], rows[TOP]["unassigned_calls"]) == (20, 10)
    assert (rows[EAST]["children_amount"], rows[EAST]["unassigned_amount"]) == ("290000.00", "10000.00")
    assert rows[EAST_1]["unassigned_amount"] == "-10000.00"
    # Setting again replaces; bringing the children back under the parent clears the warning.
    assert crm.as_("m1").targets.set(MARCH, "80000", rep="wang")["warnings"] == []
    # A unit whose own children already exceed the new, lower target is warned about too.
    lowered = crm.as_("gm").targets.set(MARCH, "400000", unit=TOP, calls=10)
    assert {(w["unit"], w["measure"]) for w in lowered["warnings"]} == {(TOP, "amount"), (TOP, "calls")}


def test_progress_figures(crm, march):
    result = crm.as_("gm").targets.progress(MARCH)
    assert [(r["level"], r["rep"] or r["unit"], r["depth"]) for r in result["rows"]] == [
        ("unit", TOP, 0), ("unit", EAST, 1), ("unit", EAST_1, 2), ("rep", "li", 3), ("rep", "wang", 3),
        ("unit", EAST_2, 2), ("rep", "zhao", 3), ("unit", NORTH, 1), ("unit", NORTH_1, 2), ("rep", "sun", 3)]
    rows = rows_by_name(result)
    assert figures(rows["li"], "amount") == ("120000.00", "150000.50", "125.00", "0.00")
    assert figures(rows["li"], "calls") == (5, 3, "60.00", 2)
    assert figures(rows["wang"], "amount") == ("90000.00", "30000.00", "33.33", "60000.00")
    assert figures(rows["wang"], "visits") == (2, 1, "50.00", 1)
    assert figures(rows["zhao"], "calls") == (None, 2, None, None)
    assert figures(rows[EAST_1], "amount") == ("200000.00", "180000.50", "90.00", "19999.50")
    assert figures(rows[EAST_1], "calls") == (12, 4, "33.33", 8)
    assert figures(rows[EAST], "amount") == ("300000.00", "180000.50", "60.00", "119999.50")
    assert figures(rows[EAST], "calls") == (20, 6, "30.00", 14)
    assert figures(rows[NORTH], "amount") == ("150000.00", "70000.00", "46.67", "80000.00")
    assert figures(rows[NORTH_1], "amount") == (None, "70000.00", None, None)
    assert figures(rows[TOP], "amount") == ("500000.00", "250000.50", "50.00", "249999.50")
    assert figures(rows[TOP], "visits") == (6, 2, "33.33", 4)
    assert figures(rows[EAST_2], "amount") == ("90000.00", "0.00", "0.00", "90000.00")
    # Another month has the same tree and no targets.
    april = rows_by_name(crm.as_("gm").targets.progress("2025-04"))
    assert figures(april["li"], "amount") == (None, "20000.00", None, None)


def test_who_sets_and_sees_what(crm, march):
    denied = [("li", {"rep": "wang"}), ("m2", {"rep": "li"}), ("m2", {"unit": EAST_1}), ("d1", {"unit": TOP}),
              ("d1", {"unit": EAST}), ("d1", {"unit": NORTH_1}), ("vp", {"unit": TOP}), ("m1", {"rep": "m1"}),
              ("m1", {"unit": EAST_1}), ("finance", {"unit": EAST})]
    for login, holder in denied:
        with pytest.raises(PermissionDenied):
            crm.as_(login).targets.set(MARCH, "1", **holder)
    assert crm.as_("vp").targets.set(MARCH, "1", unit=NORTH)["unit"] == NORTH
    assert crm.as_("d1").targets.set(MARCH, "1", rep="zhao")["rep"] == "zhao"
    assert crm.as_("admin").targets.set(MARCH, "1", unit=TOP)["set_by"] == "admin"
    # A rep sees their own row only; a manager their unit's tree.
    [own] = crm.as_("li").targets.progress(MARCH)["rows"]
    assert (own["rep"], own["unit"], own["achieved_amount"]) == ("li", EAST_1, "150000.50")
    with pytest.raises(PermissionDenied):
        crm.as_("li").targets.progress(MARCH, unit=EAST_1)
    assert [r["rep"] or r["unit"] for r in crm.as_("m1").targets.progress(MARCH)["rows"]] == [EAST_1, "li", "wang"]
    with pytest.raises(PermissionDenied):
        crm.as_("m2").targets.progress(MARCH, unit=EAST)
    assert [r["rep"] or r["unit"] for r in crm.as_("d1").targets.progress(MARCH, unit=EAST_2)["rows"]] == [
        EAST_2, "zhao"]


def test_workspaces_are_isolated(crm, march):
    root = crm.as_("root", workspace="other")
    assert root.targets.progress(MARCH)["rows"] == []
    with pytest.raises(NotFound):
        root.targets.set(MARCH, "1", rep="li")
    with pytest.raises(NotFound):
        root.targets.set(MARCH, "1", unit=EAST)
    root.org.add("总部")
    root.targets.set(MARCH, "999", unit="总部")
    assert rows_by_name(crm.as_("gm").targets.progress(MARCH))[TOP]["target_amount"] == "500000.00"
    assert "总部" not in rows_by_name(crm.as_("gm").targets.progress(MARCH))


def test_cli_set_and_progress(crm):
    gm = crm.cli("gm")
    stored = gm.ok("targets", "set", "--period", MARCH, "--unit", TOP, "--amount", "1000000", "--calls", "100")
    assert (stored["unit"], stored["amount"], stored["calls"], stored["warnings"]) == (TOP, "1000000.00", 100, [])
    over = gm.ok("targets", "set", "--period", MARCH, "--unit", EAST, "--amount", "1200000.5")
    assert over["amount"] == "1200000.50" and over["warnings"][0]["children"] == "1200000.50"
    assert "warning: the amount targets under 总公司 add up to 1200000.50" in gm.text(
        "targets", "set", "--period", MARCH, "--unit", EAST, "--amount", "1200000.5")
    rows = gm.ok("targets", "progress", "--period", MARCH, "--unit", EAST)["rows"]
    assert rows[0]["unit"] == EAST and rows[0]["percent_amount"] == "0.00"
    assert "总公司/华东/销售一部" in gm.text("targets", "progress", "--period", MARCH)
    assert crm.cli("li").ok("targets", "progress", "--period", MARCH)["rows"][0]["rep"] == "li"


def test_cli_bad_input(crm):
    gm = crm.cli("gm")
    base = ("targets", "set", "--unit", EAST)
    assert "YYYY-MM" in gm.fails(*base, "--period", "2025-13", "--amount", "1")
    for period in ("2025-3", "25-03", "2025-00", "march"):
        gm.fails(*base, "--period", period, "--amount", "1")
    for amount in ("abc", "-1", "NaN", "Infinity", "1e20"):
        gm.fails(*base, "--period", MARCH, "--amount", amount)
    gm.fails(*base, "--period", MARCH, "--amount", "1", "--calls", "many")
    gm.fails(*base, "--period", MARCH, "--amount", "1", "--visits", "-2")
    gm.fails("targets", "set", "--period", MARCH, "--amount", "1")  # neither --unit nor --rep
    gm.fails(*base, "--rep", "li", "--period", MARCH, "--amount", "1")  # both
    gm.fails("targets", "set", "--period", MARCH, "--unit", "总公司/西南", "--amount", "1", code="not_found")
    crm.cli("li").fails("targets", "set", "--period", MARCH, "--rep", "wang", "--amount", "1",
                        code="permission_denied")
    gm.fails("targets", "progress", "--period", "2025-13")
    gm.usage("targets", "set", "--unit", EAST, "--amount", "1")  # --period is required
