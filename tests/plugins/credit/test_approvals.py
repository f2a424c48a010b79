"""Approval chains (:mod:`kehu.plugins.credit.approvals`, DOMAIN.md §3.5, §3.12; DESIGN decision 5): only the
user whose role is next decides, in order; the gm records the gm office meeting's decisions with its
reference; every decision is audited and the requester told."""

import pytest

from kehu.errors import Conflict, Invalid, NotFound, PermissionDenied
from kehu.plugins.credit.models import CreditDecision

from .test_limits import graded


def test_only_the_next_role_decides_in_order(crm):
    customer = crm.customer("mid")  # C: 40% of the contract → vp, then gm
    request = crm.as_("li").credit.request(customer, amount="40000", contract="100000")
    assert (request["chain"], request["next"]) == (["vp", "gm"], "vp")
    for login in ("li", "m1", "d1", "finance", "gm", "admin"):  # a rep cannot; nor can the gm out of order
        with pytest.raises(PermissionDenied, match="waits for a vp"):
            crm.as_(login).credit.approve(request["id"])
    assert [n.message for n in crm.notifications("vp", kind="credit_approval")] == \
        [f"approval {request['id']} (credit, 宁波中型贸易公司, 40000.00 yuan) waits for you as vp"]
    step = crm.as_("vp").credit.approve(request["id"], reason="known dealer")
    assert (step["status"], step["step"], step["next"]) == ("pending", 1, "gm")
    with pytest.raises(PermissionDenied, match="waits for a gm"):
        crm.as_("vp").credit.approve(request["id"])  # the vp cannot approve the gm's step
    assert len(crm.notifications("gm", kind="credit_approval")) == 1
    done = crm.as_("gm").credit.approve(request["id"])
    assert (done["status"], done["next"]) == ("approved", None)
    with pytest.raises(Conflict, match="already approved"):
        crm.as_("gm").credit.approve(request["id"])
    shown = crm.as_("li").credit.approval(request["id"])
    assert [(d["role"], d["user"], d["decision"], d["reason"]) for d in shown["decisions"]] == \
        [("vp", "vp", "approve", "known dealer"), ("gm", "gm", "approve", None)]
    assert [(e.action, e.actor.login) for e in crm.events() if e.action.startswith("credit.")] == \
        [("credit.credit_requested", "li"), ("credit.approval_approved", "vp"), ("credit.approval_approved", "gm")]
    assert [n.message for n in crm.notifications("li", kind="credit_approval")] == \
        [f"approval {request['id']} (credit) approved"]


def test_gm_office_is_recorded_by_a_gm_with_the_meeting(crm):
    customer = graded(crm, "big", "A")
    request = crm.as_("li").credit.request(customer, amount="3100000")  # 55% over
    assert request["chain"] == ["gm_office"]
    with pytest.raises(PermissionDenied, match="gm recording the general manager's office meeting"):
        crm.as_("vp").credit.approve(request["id"], meeting="GM-7")
    with pytest.raises(Invalid, match="--meeting"):
        crm.as_("gm").credit.approve(request["id"])
    done = crm.as_("gm").credit.approve(request["id"], meeting="GM-2025-7")
    assert done["status"] == "approved"
    [decision] = CreditDecision.select()
    assert (decision.role, decision.user.login, decision.meeting) == ("gm_office", "gm", "GM-2025-7")


def test_reject_needs_a_reason_and_closes_the_request(crm):
    customer = graded(crm, "mid", "B")
    request = crm.as_("li").credit.request(customer, amount="1250000")  # 25% → gm
    with pytest.raises(Invalid, match="reason"):
        crm.as_("gm").credit.reject(request["id"], reason=" ")
    with pytest.raises(PermissionDenied):
        crm.as_("vp").credit.reject(request["id"], reason="no")
    rejected = crm.as_("gm").credit.reject(request["id"], reason="too much at once")
    assert (rejected["status"], rejected["reason"], rejected["next"]) == ("rejected", "too much at once", None)
    with pytest.raises(Conflict, match="already rejected"):
        crm.as_("gm").credit.approve(request["id"])
    assert [n.message for n in crm.notifications("li", kind="credit_approval")] == \
        [f"approval {request['id']} (credit) rejected (too much at once)"]
    [audit] = crm.events("credit.approval_rejected")
    assert (audit.entity_id, audit.after["reason"]) == (str(request["id"]), "too much at once")
    with pytest.raises(NotFound):
        crm.as_("gm").credit.approve(999999)
    with pytest.raises(Invalid):
        crm.as_("gm").credit.approve("abc")


def test_approvals_listed_for_whom_they_wait(crm):
    customer = graded(crm, "mid", "B")
    request = crm.as_("li").credit.request(customer, amount="1100000")  # 10% → vp
    assert [a["id"] for a in crm.as_("vp").credit.approvals(mine=True)] == [request["id"]]
    assert crm.as_("gm").credit.approvals(mine=True) == []
    assert [a["id"] for a in crm.as_("li").credit.approvals()] == [request["id"]]
    assert crm.as_("zhao").credit.approvals() == []  # another unit's customer
    with pytest.raises(PermissionDenied):
        crm.as_("zhao").credit.approval(request["id"])
