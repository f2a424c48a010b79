"""Tables of the credit plugin: policy overrides, standings, gradings, approvals, the receivables ledger.

Money columns are :class:`~kehu.core.db.MoneyField` (integer fen in storage, ``Decimal`` yuan in Python).
Ledger dates (goods received, payments) are calendar dates in the workspace timezone: the collection period
and late fees count days, not instants.
"""

import peewee as pw

from kehu.core.db import JSONField, MoneyField, UTCDateTimeField, utcnow
from kehu.core.models import Customer, TenantModel, User

# Approval kinds and statuses.
CREDIT, WRITE_OFF, GOODS_SETTLEMENT, REPAYMENT_AGREEMENT = "credit", "write_off", "goods_settlement", \
    "repayment_agreement"
PENDING, APPROVED, REJECTED, USED = "pending", "approved", "rejected", "used"
# Receivable statuses.
OPEN, PAID, WRITTEN_OFF = "open", "paid", "written_off"


class CreditPolicy(TenantModel):
    """A workspace's override of the default credit policy document (DOMAIN.md §3)."""

    document = JSONField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "credit_policy"
        indexes = ((("workspace",), True),)


class CreditStanding(TenantModel):
    """Per-customer credit inputs that are not in the ledger: the strategic level and its rater."""

    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    strategic = pw.CharField(max_length=20, null=True)
    strategic_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="strategic_by_id")
    strategic_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "credit_standing"
        indexes = ((("workspace", "customer"), True),)


class CreditGrading(TenantModel):
    """One grading of a customer: ``computed`` from its data, or ``decided`` in the yearly review meeting.

    The grade in force is the latest row. ``score`` is the weighted score in hundredths (exact: 740 = 7.40).
    """

    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    kind = pw.CharField(max_length=10)
    grade = pw.CharField(max_length=2)
    score = pw.IntegerField(null=True)
    points = JSONField(null=True)
    inputs = JSONField(null=True)
    flags = JSONField(null=True)
    reason = pw.CharField(max_length=300, null=True)
    credit_limit = MoneyField(default=0)
    credit_days = pw.IntegerField(default=0)
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "credit_grading"
        indexes = ((("workspace", "customer", "at"), False),)


class CreditApproval(TenantModel):
    """An approval chain: over-limit credit, a write-off, a settlement in goods, a repayment agreement.

    ``chain`` lists the roles that must approve, in order; ``step`` is the index of the next one.
    """

    kind = pw.CharField(max_length=20)
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    # A plain id, not a foreign key: receivables point at their approval, so a key back would be a cycle.
    receivable_id = pw.IntegerField(null=True)
    amount = MoneyField()
    contract = MoneyField(null=True)
    details = JSONField(null=True)
    chain = JSONField()
    step = pw.IntegerField(default=0)
    status = pw.CharField(max_length=10, default=PENDING)
    reason = pw.CharField(max_length=300, null=True)
    requested_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="requested_by_id")
    requested_at = UTCDateTimeField(default=utcnow)
    decided_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "credit_approval"
        indexes = ((("workspace", "status", "kind"), False), (("workspace", "customer"), False))


class CreditDecision(TenantModel):
    """One approver's decision on a :class:`CreditApproval` (``gm_office`` ones carry the meeting reference)."""

    approval = pw.ForeignKeyField(CreditApproval, backref="decisions", on_delete="CASCADE")
    step = pw.IntegerField()
    role = pw.CharField(max_length=20)
    user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    decision = pw.CharField(max_length=10)
    reason = pw.CharField(max_length=300, null=True)
    meeting = pw.CharField(max_length=100, null=True)
    at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "credit_decision"
        indexes = ((("workspace", "approval", "step"), False),)


class Receivable(TenantModel):
    """A credit sale: the ledger line the collection period, aging and late fees run on.

    Created only by the ship service. ``paid`` is what payments (cash or goods) have settled so far.
    """

    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    amount = MoneyField()
    paid = MoneyField(default=0)
    received_on = pw.DateField()
    due_on = pw.DateField()
    status = pw.CharField(max_length=12, default=OPEN)
    cash = pw.BooleanField(default=False)
    approval = pw.ForeignKeyField(CreditApproval, null=True, on_delete="SET NULL")
    note = pw.CharField(max_length=300, null=True)
    closed_on = pw.DateField(null=True)
    written_off_at = UTCDateTimeField(null=True)
    overdue_notified_at = UTCDateTimeField(null=True)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="created_by_id")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "credit_receivable"
        indexes = ((("workspace", "customer", "status"), False), (("workspace", "status", "due_on"), False),
                   (("workspace", "received_on"), False))


class Payment(TenantModel):
    """Money (or goods, by an approved settlement) received from a customer on a day."""

    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    amount = MoneyField()
    paid_on = pw.DateField()
    kind = pw.CharField(max_length=10, default="cash")
    note = pw.CharField(max_length=300, null=True)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="created_by_id")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "credit_payment"
        indexes = ((("workspace", "customer", "paid_on"), False), (("workspace", "paid_on"), False))


class Allocation(TenantModel):
    """The part of a payment applied to one receivable (oldest first): the daily balance late fees use."""

    payment = pw.ForeignKeyField(Payment, backref="allocations", on_delete="CASCADE")
    receivable = pw.ForeignKeyField(Receivable, backref="allocations", on_delete="CASCADE")
    amount = MoneyField()
    paid_on = pw.DateField()

    class Meta:
        table_name = "credit_allocation"
        indexes = ((("workspace", "receivable", "paid_on"), False),)


class CollectionStep(TenantModel):
    """A collection step taken on an overdue customer or receivable: phone, repayment agreement, legal."""

    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    receivable = pw.ForeignKeyField(Receivable, null=True, on_delete="CASCADE")
    step = pw.CharField(max_length=30)
    notes = pw.TextField(null=True)
    approval = pw.ForeignKeyField(CreditApproval, null=True, on_delete="SET NULL")
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "credit_collection_step"
        indexes = ((("workspace", "customer", "at"), False),)


MODELS = [CreditPolicy, CreditStanding, CreditGrading, CreditApproval, CreditDecision, Receivable, Payment,
          Allocation, CollectionStep]
NEW_IN_0002 = MODELS[1:]
