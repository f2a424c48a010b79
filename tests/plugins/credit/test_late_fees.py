"""Late fees (DOMAIN.md §3.7, E6, E7): 0.02% a day of what is unpaid on each overdue day, exact, rounded once."""

import datetime as dt

import pytest

import kehu
from kehu.core.db import database
from kehu.plugins.credit import ledger
from kehu.plugins.credit.models import WRITTEN_OFF, Receivable
from kehu.plugins.credit.policy import policy_for


def sale(crm, key, amount, received_on):
    """A receivable written straight into the ledger (the ship service is tested elsewhere)."""
    h = crm.as_("admin")
    with database.atomic():
        return ledger.record_sale(h.context, policy_for(h.context), crm.customer(key), amount,
                                  dt.date.fromisoformat(received_on)).id


def pay(crm, key, amount, on, now=None):
    return crm.as_("finance", now or dt.date.fromisoformat(on)).credit.pay(crm.customer(key), amount, on=on)


def fees(crm, key, as_of):
    return crm.as_("finance", dt.date(2026, 12, 31)).credit.late_fees(crm.customer(key), as_of=as_of)


def test_e6_twenty_days_late_costs_2000(crm):
    rid = sale(crm, "big", "500000", "2024-01-10")
    assert Receivable.get_by_id(rid).due_on == dt.date(2024, 2, 29)  # +50 days, the receipt day not counted
    pay(crm, "big", "500000", "2024-03-20")
    assert fees(crm, "big", "2025-06-02") == {
        "total": "2000.00", "lines": [{"receivable": rid, "due_on": "2024-02-29", "overdue_days": 20,
                                       "fee": "2000.00"}]}
    # unpaid, 30 days would cost 3,000
    sale(crm, "mid", "500000", "2024-01-10")
    assert fees(crm, "mid", "2024-03-30")["total"] == "3000.00"


def test_e7_daily_balance_after_a_partial_payment(crm):
    rid = sale(crm, "big", "100000", "2026-01-01")
    pay(crm, "big", "50000", "2026-02-25")
    # 100,000 × 0.0002 × 5 (21–25 Feb, the payment day included) + 50,000 × 0.0002 × 5 (26 Feb–2 Mar)
    assert fees(crm, "big", "2026-03-02") == {
        "total": "150.00", "lines": [{"receivable": rid, "due_on": "2026-02-20", "overdue_days": 10,
                                      "fee": "150.00"}]}


def test_e7_200000_for_10_days_then_120000_for_20_days_is_880(crm):
    sale(crm, "big", "200000", "2025-01-01")  # due 2025-02-20
    pay(crm, "big", "80000", "2025-03-02")  # the 10th overdue day still accrues on 200,000
    assert fees(crm, "big", "2025-03-22")["total"] == "880.00"


@pytest.mark.parametrize("paid_on, total, days", [
    ("2025-02-20", "0.00", None),  # paid on the due day: never late
    ("2025-02-21", "20.00", 1),    # one day late: one day's fee on the whole amount unpaid that day
])
def test_the_50_day_edge(crm, paid_on, total, days):
    sale(crm, "big", "100000", "2025-01-01")
    pay(crm, "big", "100000", paid_on)
    result = fees(crm, "big", "2025-06-02")
    assert result["total"] == total
    assert [line["overdue_days"] for line in result["lines"]] == ([days] if days else [])


def test_partial_payments_across_the_edge(crm):
    sale(crm, "big", "100000", "2025-01-01")  # due 2025-02-20
    pay(crm, "big", "40000", "2025-02-20")  # on time: the first overdue day owes on 60,000 only
    pay(crm, "big", "60000", "2025-02-21")
    assert fees(crm, "big", "2025-06-02")["total"] == "12.00"  # 60,000 × 0.0002 × 1


def test_count_receipt_day_makes_e6_due_a_day_earlier(crm):
    crm.as_("finance").credit.policy_set({"count_receipt_day": True})
    rid = sale(crm, "big", "500000", "2024-01-10")
    pay(crm, "big", "500000", "2024-03-20")
    assert fees(crm, "big", "2025-06-02")["lines"] == [
        {"receivable": rid, "due_on": "2024-02-28", "overdue_days": 21, "fee": "2100.00"}]


def test_the_total_is_the_exact_sum_rounded_once(crm):
    # 25.00 × 0.0002 = 0.005 a day: each line shows 0.01 (half up), the two together are exactly 0.01
    sale(crm, "big", "25", "2025-01-01")
    sale(crm, "big", "25", "2025-01-01")
    result = fees(crm, "big", "2025-02-21")
    assert [line["fee"] for line in result["lines"]] == ["0.01", "0.01"]
    assert result["total"] == "0.01"


def test_fees_stop_at_the_write_off(crm):
    rid = sale(crm, "big", "100000", "2025-01-01")  # due 2025-02-20
    # what the write-off service leaves behind (it is written elsewhere)
    Receivable.update(status=WRITTEN_OFF, closed_on=dt.date(2025, 3, 2)).where(Receivable.id == rid).execute()
    assert fees(crm, "big", "2025-06-02")["lines"][0]["overdue_days"] == 10  # 21 Feb – 2 Mar, then none


def test_only_receivables_in_scope_and_clear_errors(crm):
    sale(crm, "far", "100000", "2025-01-01")
    with pytest.raises(kehu.PermissionDenied):
        crm.as_("li").credit.late_fees(crm.customer("far"))
    assert crm.as_("zhao").credit.late_fees(crm.customer("far"))["total"] == "2040.00"  # 102 days to T0
    with pytest.raises(kehu.Invalid):
        crm.as_("zhao").credit.late_fees(crm.customer("far"), as_of="2025-02-30")
