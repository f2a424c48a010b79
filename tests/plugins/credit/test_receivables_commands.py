"""``kehu credit pay | aging | late-fees | rebate | collections | collect`` end to end, and their bad inputs."""

import datetime as dt

import pytest

from kehu.core.db import database
from kehu.plugins.credit import ledger
from kehu.plugins.credit.policy import policy_for


def sale(crm, key, amount, received_on):
    h = crm.as_("admin")
    with database.atomic():
        return ledger.record_sale(h.context, policy_for(h.context), crm.customer(key), amount,
                                  dt.date.fromisoformat(received_on)).id


def test_pay_late_fees_rebate_and_aging(crm):
    rid = sale(crm, "big", "500000", "2024-01-10")
    big = crm.customer("big")
    cli = crm.cli("finance")
    paid = cli.ok("credit", "pay", big, "--amount", "50万", "--on", "2024-03-20", "--note", "bank 7")
    assert (paid["amount"], paid["paid_on"], paid["allocations"][0]["receivable"]) == ("500000.00", "2024-03-20", rid)
    assert cli.ok("credit", "late-fees", big)["total"] == "2000.00"
    assert "total 2000.00" in cli.text("credit", "late-fees", big)
    rebate = cli.ok("credit", "rebate", big, "--year", "2024")
    assert (rebate["rebate"], rebate["late_fees"], rebate["payable"]) == ("40000.00", "2000.00", "38000.00")

    sale(crm, "mid", "1000", "2025-03-01")  # due 2025-04-20: 43 days overdue at T0
    [row] = cli.ok("credit", "aging")
    assert (row["customer"], row["overdue_31_60"], row["total"]) == (crm.customer("mid"), "1000.00", "1000.00")
    assert cli.ok("credit", "aging", "--as-of", "2025-04-20")[0]["current"] == "1000.00"
    csv_text = cli.text("credit", "aging", "--csv")
    assert csv_text.splitlines()[0] == \
        "customer,name,current,overdue_1_30,overdue_31_60,overdue_61_90,overdue_over_90,total"
    assert cli.ok("credit", "aging", "--limit", "1", "--offset", "1") == []


def test_collections_and_collect(crm):
    rid = sale(crm, "big", "100000", "2025-03-01")
    li = crm.cli("li")
    [row] = li.ok("credit", "collections")
    assert (row["receivable"], row["next"]) == (rid, "phone")
    taken = li.ok("credit", "collect", crm.customer("big"), "--step", "phone", "--notes", "called")
    assert taken["status"] == "taken"
    asked = li.ok("credit", "collect", f"receivable:{rid}", "--step", "repayment_agreement")
    crm.cli("vp").ok("credit", "approve", asked["approval"]["id"])
    assert li.ok("credit", "collections")[0]["next"] == "legal"
    assert "legal" in li.text("credit", "collections")
    li.fails("credit", "collect", crm.customer("big"), "--step", "sue", code="invalid")
    crm.cli("zhao").fails("credit", "collect", crm.customer("big"), "--step", "phone", code="permission_denied")


@pytest.mark.parametrize("args, code", [
    (("credit", "pay", "{big}", "--amount", "abc", "--on", "2025-05-01"), "invalid"),
    (("credit", "pay", "{big}", "--amount", "-5", "--on", "2025-05-01"), "invalid"),
    (("credit", "pay", "{big}", "--amount", "100", "--on", "2025-13-01"), "invalid"),
    (("credit", "pay", "{big}", "--amount", "999999", "--on", "2025-05-01"), "invalid"),  # more than open
    (("credit", "pay", "x1", "--amount", "100"), "invalid"),
    (("credit", "pay", "999", "--amount", "100"), "not_found"),
    (("credit", "aging", "--as-of", "yesterday"), "invalid"),
    (("credit", "aging", "--limit", "-1"), "invalid"),
    (("credit", "late-fees", "{big}", "--as-of", "2025/06/01"), "invalid"),
    (("credit", "rebate", "{big}", "--year", "20x4"), "invalid"),
    (("credit", "rebate", "{big}", "--year", "2024", "--amount", "1.234"), "invalid"),
    (("credit", "collections", "--as-of", "soon"), "invalid"),
    (("credit", "collect", "receivable:abc", "--step", "phone"), "invalid"),
])
def test_bad_input_is_one_line_error(crm, args, code):
    sale(crm, "big", "1000", "2025-01-01")
    crm.cli("finance").fails(*[a.format(big=crm.customer("big")) for a in args], code=code)


def test_missing_arguments_are_usage_errors(crm):
    cli = crm.cli("finance")
    cli.usage("credit", "pay", crm.customer("big"))  # no --amount
    cli.usage("credit", "collect", crm.customer("big"))  # no --step
