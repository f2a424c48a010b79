"""The receivables ledger: payments oldest first, aging, rebates, collections and overdue notices."""

import datetime as dt
from decimal import Decimal

import pytest

import kehu
from kehu.core.db import database
from kehu.plugins.credit import ledger, receivables
from kehu.plugins.credit.models import OPEN, PAID, REPAYMENT_AGREEMENT, Allocation, Payment, Receivable
from kehu.plugins.credit.policy import DEFAULT, policy_for


def sale(crm, key, amount, received_on):
    """A receivable written straight into the ledger (the ship service is tested elsewhere)."""
    h = crm.as_("admin")
    with database.atomic():
        return ledger.record_sale(h.context, policy_for(h.context), crm.customer(key), amount,
                                  dt.date.fromisoformat(received_on)).id


def due(days_before_t0, key, amount, crm):
    """A receivable of ``key`` due ``days_before_t0`` days before T0 (2025-06-02)."""
    received = dt.date(2025, 6, 2) - dt.timedelta(days=days_before_t0 + 50)
    return sale(crm, key, amount, received.isoformat())


# --- payments ------------------------------------------------------------------------------------------


def test_a_payment_settles_the_oldest_due_first(crm):
    first = sale(crm, "big", "100000", "2025-01-01")   # due 2025-02-20
    later = sale(crm, "big", "50000", "2025-02-01")    # due 2025-03-23
    oldest = sale(crm, "big", "30000", "2024-12-20")   # due 2025-02-08
    twin = sale(crm, "big", "10000", "2024-12-20")     # same day as ``oldest``: the lower id first
    result = crm.as_("finance").credit.pay(crm.customer("big"), "160,000", on="2025-05-01", note="bank 42")
    assert [(a["receivable"], a["amount"], a["unpaid"], a["status"]) for a in result["allocations"]] == [
        (oldest, "30000.00", "0.00", PAID), (twin, "10000.00", "0.00", PAID), (first, "100000.00", "0.00", PAID),
        (later, "20000.00", "30000.00", OPEN)]
    rows = {r.id: r for r in Receivable.select()}
    assert (rows[first].status, rows[first].closed_on, rows[first].paid) == (PAID, dt.date(2025, 5, 1),
                                                                             Decimal("100000.00"))
    assert (rows[later].status, rows[later].closed_on, rows[later].paid) == (OPEN, None, Decimal("20000.00"))
    assert [(a.receivable_id, a.paid_on) for a in Allocation.select().order_by(Allocation.id)][-1] == \
        (later, dt.date(2025, 5, 1))
    assert crm.events("credit.payment_recorded")[-1].entity_id == str(result["payment"])


def test_overpaying_is_refused_and_stores_nothing(crm):
    sale(crm, "big", "100000", "2025-01-01")
    sale(crm, "big", "5000", "2025-05-20")  # received after the payment date: not payable by it
    finance = crm.as_("finance").credit
    for amount, on in (("100000.01", "2025-05-01"), ("105000", "2025-05-19"), ("0", "2025-05-01"),
                       ("100", "2025-06-03")):  # more than open, goods not yet received, nothing, the future
        with pytest.raises(kehu.Invalid):
            finance.pay(crm.customer("big"), amount, on=on)
    assert (Payment.select().count(), Allocation.select().count()) == (0, 0)
    assert {r.paid for r in Receivable.select()} == {Decimal("0.00")}
    assert crm.events("credit.payment_recorded") == []


def test_who_may_record_a_payment(crm):
    sale(crm, "big", "100000", "2025-01-01")
    sale(crm, "far", "100000", "2025-01-01")
    crm.as_("li").credit.pay(crm.customer("big"), "1000", on="2025-05-01")  # its rep (audited as li)
    crm.as_("m1").credit.pay(crm.customer("big"), "1000", on="2025-05-01")  # the rep's manager
    crm.as_("gm").credit.pay(crm.customer("far"), "1000", on="2025-05-01")
    crm.as_("finance").credit.pay(crm.customer("far"), "1000", on="2025-05-01")
    for login, key in (("li", "far"), ("zhao", "big"), ("m1", "far")):
        with pytest.raises(kehu.PermissionDenied):
            crm.as_(login).credit.pay(crm.customer(key), "1000", on="2025-05-01")
    assert [e.actor.login for e in crm.events("credit.payment_recorded")] == ["li", "m1", "gm", "finance"]


# --- aging ---------------------------------------------------------------------------------------------


def test_aging_buckets_at_their_edges(crm):
    for days, amount in ((-5, "1"), (0, "2"), (1, "10"), (30, "20"), (31, "100"), (60, "200"), (61, "1000"),
                         (90, "2000"), (91, "10000")):
        due(days, "big", amount, crm)
    assert crm.as_("finance").credit.aging() == [{
        "customer": crm.customer("big"), "name": "杭州大客户有限公司", "current": "3.00", "overdue_1_30": "30.00",
        "overdue_31_60": "300.00", "overdue_61_90": "3000.00", "overdue_over_90": "10000.00",
        "total": "13333.00"}]


def test_aging_in_the_past_ignores_later_payments(crm):
    sale(crm, "big", "100000", "2025-01-10")  # due 2025-03-01
    finance = crm.as_("finance").credit
    finance.pay(crm.customer("big"), "40000", on="2025-04-01")
    finance.pay(crm.customer("big"), "60000", on="2025-05-10")

    def buckets(as_of):
        return {k: v for row in finance.aging(as_of=as_of) for k, v in row.items() if v not in ("0.00",)}

    assert buckets("2025-03-31") == {"customer": crm.customer("big"), "name": "杭州大客户有限公司",
                                     "overdue_1_30": "100000.00", "total": "100000.00"}
    assert buckets("2025-04-15")["overdue_31_60"] == "60000.00"
    assert buckets("2025-03-01")["current"] == "100000.00"  # the due day itself is not overdue
    assert finance.aging(as_of="2025-05-10") == []  # settled that day
    assert finance.aging(as_of="2025-01-09") == []  # not yet received
    assert finance.aging() == []


def test_aging_shows_each_user_their_scope(crm):
    for key in ("big", "mid", "small", "far"):
        sale(crm, key, "1000", "2025-05-01")

    def seen(login):
        return sorted(row["customer"] for row in crm.as_(login).credit.aging())

    ids = crm.customers
    assert seen("li") == sorted([ids["big"], ids["mid"]])
    assert seen("wang") == [ids["small"]]
    assert seen("m1") == sorted([ids["big"], ids["mid"], ids["small"]])
    assert seen("finance") == seen("vp") == sorted(ids.values())
    assert [row["customer"] for row in crm.as_("finance").credit.aging(limit=2, offset=1)] == \
        sorted(ids.values())[1:3]


def test_workspaces_are_isolated(crm):
    sale(crm, "big", "1000", "2025-01-01")
    root = crm.as_("root", workspace="other").credit
    assert root.aging() == [] and root.collections() == []
    with pytest.raises(kehu.NotFound):
        root.pay(crm.customer("big"), "10", on="2025-05-01")
    with pytest.raises(kehu.NotFound):
        root.late_fees(crm.customer("big"))


# --- rebate --------------------------------------------------------------------------------------------


def test_e9_rebate_less_the_late_fees_of_the_year(crm):
    sale(crm, "big", "500000", "2024-01-10")  # E6: paid 20 days late → 2,000
    sale(crm, "big", "300000", "2024-06-01")  # due 2024-07-21, paid on the day
    finance = crm.as_("finance").credit
    finance.pay(crm.customer("big"), "500000", on="2024-03-20")
    finance.pay(crm.customer("big"), "300000", on="2024-07-21")
    assert finance.rebate(crm.customer("big"), year=2024) == {
        "year": 2024, "sales": "800000.00", "collections": "800000.00", "tier_rate": "0.08",
        "rebate": "64000.00", "late_fees": "2000.00", "payable": "62000.00"}
    assert finance.rebate(crm.customer("big"), year="2024", amount="1500")["payable"] == "0.00"  # never negative


def test_a_rebate_deducts_only_the_fees_accrued_in_its_year(crm):
    sale(crm, "mid", "100000", "2024-11-01")  # due 2024-12-21, paid 2025-01-10: 10 days in each year
    crm.as_("finance").credit.pay(crm.customer("mid"), "100000", on="2025-01-10")
    finance = crm.as_("finance").credit
    assert finance.rebate(crm.customer("mid"), year=2024)["late_fees"] == "200.00"
    this = finance.rebate(crm.customer("mid"))  # default: last year, computed this year (2025)
    assert this["year"] == 2024
    later = crm.as_("finance", dt.date(2026, 2, 1)).credit.rebate(crm.customer("mid"))
    assert (later["year"], later["sales"], later["collections"], later["tier_rate"], later["rebate"],
            later["late_fees"], later["payable"]) == (2025, "0.00", "100000.00", "0.05", "5000.00", "200.00",
                                                      "4800.00")


@pytest.mark.parametrize("sales, rate", [("199999.99", "0.05"), ("200000", "0.08"), ("999999.99", "0.08"),
                                         ("1000000", "0.10")])
def test_rebate_tiers_are_half_open(sales, rate):
    assert receivables.tier_rate(DEFAULT, Decimal(sales)) == Decimal(rate)


# --- collections ---------------------------------------------------------------------------------------


def test_collection_procedure_with_the_repayment_agreement_approval(crm):
    rid = sale(crm, "big", "100000", "2025-03-01")  # due 2025-04-20: 43 days overdue at T0
    li = crm.as_("li").credit
    [row] = li.collections()
    assert (row["receivable"], row["overdue_days"], row["unpaid"], row["steps"], row["next"], row["owner"]) == \
        (rid, 43, "100000.00", [], "phone", "li")
    with pytest.raises(kehu.PermissionDenied):  # a rep follows the procedure in order
        li.collect(crm.customer("big"), "legal")
    with pytest.raises(kehu.Invalid):
        li.collect(crm.customer("big"), "email")
    crm.as_("finance").credit.collect(crm.customer("big"), "phone", notes="will pay next month")
    assert [n.kind for n in crm.notifications("li")] == ["credit_collect"]
    assert li.collections()[0]["next"] == "repayment_agreement"

    asked = li.collect(f"receivable:{rid}", "repayment_agreement", notes="3 instalments")
    approval = asked["approval"]
    assert (asked["status"], approval["kind"], approval["chain"], approval["amount"], approval["receivable"]) == \
        ("pending", REPAYMENT_AGREEMENT, ["vp"], "100000.00", rid)
    assert li.collections()[0]["pending_approval"] == approval["id"]
    assert li.collections()[0]["next"] == "repayment_agreement"  # counts only once approved
    with pytest.raises(kehu.Conflict):
        li.collect(f"receivable:{rid}", "repayment_agreement")
    crm.as_("vp").credit.approve(approval["id"])
    [row] = li.collections()
    assert (row["steps"], row["next"], row["pending_approval"]) == (["phone", "repayment_agreement"], "legal", None)
    assert [e.after["step"] for e in crm.events("credit.collection_step")] == ["phone", "repayment_agreement"]


def test_a_manager_may_skip_steps_and_nothing_overdue_is_a_conflict(crm):
    sale(crm, "mid", "100000", "2025-03-01")
    taken = crm.as_("m1").credit.collect(crm.customer("mid"), "legal", notes="customer vanished")
    assert taken["status"] == "taken"
    assert crm.as_("li").credit.collections()[0]["steps"] == ["legal"]
    with pytest.raises(kehu.Conflict):
        crm.as_("m1").credit.collect(crm.customer("small"), "phone")
    with pytest.raises(kehu.NotFound):
        crm.as_("m1").credit.collect("receivable:999", "phone")


def test_overdue_reps_are_notified_once_per_receivable(crm):
    assert receivables.JOBS == [("credit.overdue", receivables.notify_overdue, "day")]
    due(1, "big", "1000", crm)
    due(0, "big", "1000", crm)  # due today: not yet overdue
    due(-30, "far", "1000", crm)
    system = crm.as_(None).credit
    assert system.notify_overdue() == {"overdue": 1, "notified": 1}
    assert system.notify_overdue() == {"overdue": 0, "notified": 0}
    [notice] = crm.notifications("li")
    assert notice.kind == "credit_overdue" and "(1000.00 yuan unpaid)" in notice.message
    later = crm.as_(None, dt.date(2025, 7, 10)).credit.notify_overdue()
    assert later == {"overdue": 2, "notified": 2}
    assert len(crm.notifications("li", "credit_overdue")) == 2
    assert len(crm.notifications("zhao", "credit_overdue")) == 1
