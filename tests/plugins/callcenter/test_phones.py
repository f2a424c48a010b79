"""Invalid numbers, the dialing list and the phone claim mechanism (services; the CLI in test_phones_commands)."""

import datetime as dt
import multiprocessing

import pytest

import kehu
from kehu.core.db import database
from kehu.core.models import Customer, Event
from kehu.core.services import ownership
from kehu.errors import Conflict, Invalid, PermissionDenied
from kehu.plugins.callcenter import phones
from kehu.plugins.callcenter.models import CallcenterSettings, InvalidPhone, PhoneClaim

from .conftest import CREATED, T0

DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


def add_open(crm, count, first=100):
    """``count`` more customers without an owner (numbers 137000001xx), returning their ids."""
    admin = crm.as_("admin", CREATED)
    made = admin.customers.create_many([{"name": f"公开客户{i}", "phone": f"137{i:08d}", "source": "公司资源"}
                                        for i in range(first, first + count)])["created"]
    ids = [c["id"] for c in made]
    with database.atomic():
        ownership.write_owner(admin.context, Customer, "customer", ids, None, "test set-up")
    return ids


def set_claim_rules(crm, daily, return_after_days=2):
    CallcenterSettings.create(workspace=crm.workspace_row(),
                              document={"claim": {"daily": daily, "return_after_days": return_after_days}})


def claimed_ids(result):
    return [c["customer"] for c in result["claimed"]]


def open_ids(crm):
    return [crm.customer(k) for k in ("open1", "open2", "open3")]


# --- invalid numbers ----------------------------------------------------------------------------------------


def test_mark_a_customer_or_a_number_and_twice_is_a_conflict(crm):
    li = crm.as_("li")
    mark = li.calls.invalid_mark(str(crm.customer("tea")), reason="空号")
    assert mark["phone"] == "13900000001" and mark["customer"] == crm.customer("tea")
    assert (mark["marked_by"], mark["reason"], mark["status"]) == ("li", "空号", "open")
    assert mark["marked_at"] == T0.astimezone(dt.timezone.utc).isoformat()
    # The same number in another spelling, through the customer or as a number: one open mark per number.
    with pytest.raises(Conflict):
        li.calls.invalid_mark("+86 139-0000-0001")
    with pytest.raises(Conflict):
        li.calls.invalid_mark(f"customer:{crm.customer('tea')}")
    by_number = li.calls.invalid_mark("139 0000 0002", reason="停机")
    assert by_number["customer"] == crm.customer("milk")  # linked to the customer with that number
    assert [e.entity_id for e in crm.events("phone.invalid_marked")] == [str(mark["id"]), str(by_number["id"])]
    with pytest.raises(Invalid):
        li.calls.invalid_mark("not a phone")


def test_mark_needs_the_customer_in_scope_or_claimed(crm):
    li = crm.as_("li")
    with pytest.raises(PermissionDenied):
        li.calls.invalid_mark(str(crm.customer("mart")))  # zhao's customer
    with pytest.raises(PermissionDenied):
        li.calls.invalid_mark("13900000004")  # zhao's customer's number
    with pytest.raises(PermissionDenied):
        li.calls.invalid_mark(str(crm.customer("open1")))  # the pool: not claimed by li
    li.calls.claim(1)  # open1, never called, first id
    assert li.calls.invalid_mark(str(crm.customer("open1")))["customer"] == crm.customer("open1")
    assert crm.as_("d1").calls.invalid_mark(str(crm.customer("mart")))["marked_by"] == "d1"


def test_invalid_report_is_scoped(crm):
    crm.as_("li").calls.invalid_mark(str(crm.customer("tea")))
    crm.as_("zhao").calls.invalid_mark(str(crm.customer("mart")))
    crm.as_("sun").calls.invalid_mark("13812345678", reason="lead's number")  # no customer has it

    def phones_seen(login):
        return sorted(m["phone"] for m in crm.as_(login).calls.invalid_list())

    assert phones_seen("li") == ["13900000001"]
    assert phones_seen("m1") == ["13900000001"]
    assert phones_seen("d1") == ["13900000001", "13900000004"]
    assert phones_seen("sun") == ["13812345678"]  # the number sun marked
    assert phones_seen("gm") == ["13812345678", "13900000001", "13900000004"]
    assert crm.as_("root", workspace="other").calls.invalid_list() == []


def test_invalid_numbers_leave_the_dialing_list_and_claims_until_corrected(crm):
    li = crm.as_("li")
    tea, milk = crm.customer("tea"), crm.customer("milk")
    assert [r["customer"] for r in li.calls.dialing_list()] == [tea, milk]
    mark = li.calls.invalid_mark(str(tea), reason="空号")
    crm.as_("gm").calls.invalid_mark(str(crm.customer("open1")))
    assert [r["customer"] for r in li.calls.dialing_list()] == [milk]
    assert claimed_ids(li.calls.claim(5)) == open_ids(crm)[1:]  # open1's number is invalid

    fixed = li.calls.invalid_correct(mark["id"], "139-0000-0099")
    assert (fixed["status"], fixed["corrected_to"], fixed["corrected_by"]) == ("corrected", "139-0000-0099", "li")
    assert fixed["corrected_at"] == T0.astimezone(dt.timezone.utc).isoformat()
    row = crm.customer_row("tea")
    assert (row.phone, row.phone_key) == ("139-0000-0099", "13900000099")  # through core's customer update
    assert crm.events("customer.updated")[-1].entity_id == str(tea)
    assert tea in [r["customer"] for r in li.calls.dialing_list()]
    assert [m["id"] for m in li.calls.invalid_list()] == []
    assert [m["id"] for m in li.calls.invalid_list(include_corrected=True)] == [mark["id"]]
    with pytest.raises(Conflict):
        li.calls.invalid_correct(mark["id"], "13900000098")
    # The old number can be marked again (its first mark is closed).
    assert li.calls.invalid_mark("13900000001")["customer"] is None


def test_correct_follows_the_customer_rules(crm):
    mark = crm.as_("li").calls.invalid_mark(str(crm.customer("tea")))
    with pytest.raises(PermissionDenied):
        crm.as_("zhao").calls.invalid_correct(mark["id"], "13900000099")
    with pytest.raises(Invalid):
        crm.as_("li").calls.invalid_correct(mark["id"], "13900000001")  # the invalid number itself
    with pytest.raises(Invalid):
        crm.as_("li").calls.invalid_correct(mark["id"], "nonsense")
    assert InvalidPhone.get_by_id(mark["id"]).corrected_at is None
    assert crm.customer_row("tea").phone == "13900000001"


def test_mark_invalid_for_the_calls_plugin(crm):
    ctx = crm.as_("li").context
    with database.atomic():
        row = phones.mark_invalid(ctx, None, customer_id=crm.customer("milk"), reason="no such number")
        assert phones.mark_invalid(ctx, "13900000002", customer_id=crm.customer("milk"), reuse=True) == row
        with pytest.raises(Conflict):
            phones.mark_invalid(ctx, "13900000002")
    assert row["phone"] == "13900000002" and row["reason"] == "no such number"


# --- the dialing list ---------------------------------------------------------------------------------------


def test_dialing_list_is_own_customers_and_claims_least_recently_called_first(crm):
    tea, milk = crm.customer("tea"), crm.customer("milk")
    open1, open2, open3 = open_ids(crm)
    admin = crm.as_("admin", -3 * DAY)
    admin.activities.log("call", "first call", customer=tea)
    crm.as_("admin", -DAY).activities.log("call", "call", customer=open2)
    crm.as_("admin", -2 * DAY).activities.log("visit", "a visit is not a call", customer=milk)
    li = crm.as_("li")
    assert claimed_ids(li.calls.claim(2)) == [open1, open3]  # never called first; open2 was called yesterday
    rows = li.calls.dialing_list()
    assert [r["customer"] for r in rows] == [milk, open1, open3, tea]
    assert [r["why"] for r in rows] == ["owner", "claim", "claim", "owner"]
    assert rows[3]["last_called_at"] == (T0 - 3 * DAY).astimezone(dt.timezone.utc).isoformat()
    assert [r["customer"] for r in crm.as_("wang").calls.dialing_list()] == [crm.customer("shop")]


# --- claims -------------------------------------------------------------------------------------------------


def test_claims_go_to_one_rep_and_do_not_change_the_owner(crm):
    open1, open2, open3 = open_ids(crm)
    first = crm.as_("li").calls.claim(2)
    assert claimed_ids(first) == [open1, open2]
    assert first["claimed"][0]["due_at"] == (T0 + 2 * DAY).astimezone(dt.timezone.utc).isoformat()
    second = crm.as_("wang").calls.claim(5)
    assert claimed_ids(second) == [open3]
    assert second["notice"] == "asked for 5, the pool had 1 numbers to claim"
    assert crm.as_("zhao").calls.claim(1)["claimed"] == []
    assert all(crm.customer_row(k).owner_id is None for k in ("open1", "open2", "open3"))
    assert [c["customer"] for c in crm.as_("li").calls.claims(mine=True)] == [open1, open2]
    assert [c["rep"] for c in crm.as_("m1").calls.claims()] == ["li", "li", "wang"]
    assert crm.as_("sun").calls.claims() == []
    assert len(crm.events("phone.claimed")) == 3
    assert crm.as_("root", workspace="other").calls.claims() == []
    assert crm.as_("olga", workspace="other").calls.claim(5)["claimed"] == []  # acme's pool is acme's
    with pytest.raises(Invalid):
        crm.as_("li").calls.claim(0)


def test_daily_cap_exactly_and_reset_at_local_midnight(crm):
    set_claim_rules(crm, daily=3)
    add_open(crm, 10)
    li_now = crm.as_("li")
    assert li_now.calls.claim(2)["remaining_today"] == 1
    beyond = li_now.calls.claim(5)
    assert (beyond["granted"], beyond["remaining_today"]) == (1, 0)
    assert beyond["notice"] == "asked for 5, the daily allowance (3 a day) left 1; 1 claimed"
    last_second = T0.replace(hour=23, minute=59, second=59)
    with pytest.raises(Conflict) as refused:
        crm.as_("li", last_second).calls.claim(1)
    assert refused.value.code == "claim_limit_daily"
    assert crm.as_("wang", last_second).calls.claim(3)["granted"] == 3  # per rep
    midnight = T0.replace(hour=0) + DAY  # 2025-03-04 00:00 Shanghai = 03-03 16:00 UTC
    assert crm.as_("li", midnight).calls.claim(3)["granted"] == 3


def test_uncalled_claims_return_at_due_and_called_ones_stay(crm):
    open1, open2, open3 = open_ids(crm)
    li = crm.as_("li")
    li.calls.claim(2)
    crm.as_("wang", DAY).calls.claim(1)
    phones.mark_called(crm.as_("li", 2 * DAY - SECOND).context, open2, crm.uid("li"))
    assert crm.as_(None, 2 * DAY - SECOND).calls.return_unclaimed() == {"returned": 0, "reps": 0}
    assert crm.as_(None, 2 * DAY).calls.return_unclaimed() == {"returned": 1, "reps": 1}
    assert PhoneClaim.get(PhoneClaim.customer == open1).returned_at == T0 + 2 * DAY
    assert PhoneClaim.get(PhoneClaim.customer == open2).returned_at is None
    [notice] = crm.notifications("li", "phone_claims_returned")
    assert notice.message == "1 claimed number went back to the pool: not called within 2 days of claiming"
    # Returned numbers can be claimed again; the called one stays li's.
    assert claimed_ids(crm.as_("zhao", 2 * DAY).calls.claim(5)) == [open1]
    # The job (kehu tick, as the system) returns wang's claim once it is due, and only once.
    ticks = crm.app.tick(now=T0 + 3 * DAY, workspace="acme")[0]["jobs"]
    [job] = [j for j in ticks if j["job"] == "callcenter.return_claims"]
    assert job["ran"] and job["result"] == {"returned": 1, "reps": 1}
    assert crm.as_(None, 3 * DAY).calls.return_unclaimed()["returned"] == 0
    assert len(crm.notifications("wang", "phone_claims_returned")) == 1
    with pytest.raises(PermissionDenied):
        crm.as_("li", 3 * DAY).calls.return_unclaimed()


def test_a_claim_lets_the_rep_call_the_number_and_the_call_keeps_the_claim(crm):
    open1 = crm.customer("open1")
    with pytest.raises(PermissionDenied):  # nobody's customer: outside a rep's scope
        crm.as_("li").calls.log(open1, intent=0)
    assert claimed_ids(crm.as_("li").calls.claim(1)) == [open1]
    call = crm.as_("li", DAY).calls.log(open1, intent=1, disposition="connected")
    assert call["intent"] == 1
    assert PhoneClaim.get(PhoneClaim.customer == open1).called_at == T0 + DAY
    assert crm.as_(None, 3 * DAY).calls.return_unclaimed()["returned"] == 0  # called: it stays li's
    assert crm.as_("li", DAY).customers.show(open1)["id"] == open1  # the grant covers seeing it
    with pytest.raises(PermissionDenied):  # but never editing it
        crm.as_("li", DAY).customers.update(open1, name="改名")
    with pytest.raises(PermissionDenied):  # and not for a rep without the claim
        crm.as_("wang", DAY).calls.log(open1, intent=0)


# --- two processes claiming at once -------------------------------------------------------------------------


def claim_worker(url, login, ready, start, results):
    """Claim 3 numbers at a time as ``login`` until the pool is empty."""
    outcome = {"login": login, "claimed": [], "unexpected": []}
    app = None
    try:
        app = kehu.connect(url)
        handle = app.workspace("acme", user=login, now=T0)
        ready.put(login)
        if not start.wait(60):
            raise RuntimeError("no start signal")
        while True:
            got = claimed_ids(handle.calls.claim(3))
            outcome["claimed"] += got
            if not got:
                break
    except BaseException as exc:
        outcome["unexpected"].append(f"{type(exc).__name__}: {exc}")
    finally:
        if app is not None:
            app.close()
        results.put(outcome)


def test_two_processes_never_claim_the_same_number(crm):
    pool = open_ids(crm) + add_open(crm, 45)
    ctx = multiprocessing.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    workers = [ctx.Process(target=claim_worker, args=(crm.app.url, login, ready, start, results), daemon=True)
               for login in ("li", "wang")]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            ready.get(timeout=60)
        start.set()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
    assert [o["unexpected"] for o in outcomes] == [[], []]
    claimed = [cid for o in outcomes for cid in o["claimed"]]
    assert sorted(claimed) == sorted(pool)  # every number once, none twice
    rows = list(PhoneClaim.select().where(PhoneClaim.workspace == crm.workspace_row()))
    assert sorted(r.customer_id for r in rows) == sorted(pool)
    assert Event.select().where(Event.action == "phone.claimed").count() == len(pool)
