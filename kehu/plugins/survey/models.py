"""Tables of the survey plugin: workspace forms, response slots with their tokens and answers, complaints
and the steps of their handling."""

import peewee as pw

from kehu.core.db import JSONField, UTCDateTimeField, utcnow
from kehu.core.models import Customer, TenantModel, User


class SurveyForm(TenantModel):
    """A survey form as data: questions of types scale, nps, choice and text. The default forms ship as data
    in code (``forms.py``); rows are the workspace's own forms and its overrides of a default by key."""

    key = pw.CharField(max_length=64)
    title = pw.CharField(max_length=200)
    questions = JSONField(default=list)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "survey_form"
        indexes = ((("workspace", "key"), True),)


class SurveyResponse(TenantModel):
    """A response slot: sent to a customer with an unguessable single-use ``token``, answered once.

    The derived figures are stored with the answers so reports aggregate them in SQL: ``nps`` (0–10, the
    form's NPS question), ``csat_points``/``csat_max`` (sum of the scale answers and of their maxima),
    ``expectation``/``perception`` (the a and b of C = b/a where the form asks both).
    """

    form_key = pw.CharField(max_length=64)
    form = JSONField()  # the form as it was sent: later edits of the form never reinterpret old answers
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    token = pw.CharField(max_length=64, unique=True)
    after = pw.CharField(max_length=100, null=True)  # what prompted it: activity:12, complaint:3
    sent_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="sent_by_id")
    sent_at = UTCDateTimeField(default=utcnow)
    answered_at = UTCDateTimeField(null=True)
    answers = JSONField(null=True)
    collected_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="collected_by_id")
    nps = pw.SmallIntegerField(null=True)
    csat_points = pw.IntegerField(null=True)
    csat_max = pw.IntegerField(null=True)
    expectation = pw.IntegerField(null=True)
    perception = pw.IntegerField(null=True)
    followed_up_at = UTCDateTimeField(null=True)  # the low-score loop ran for it

    class Meta:
        table_name = "survey_response"
        indexes = ((("workspace", "form_key", "answered_at"), False), (("workspace", "customer", "answered_at"), False))


class Complaint(TenantModel):
    """A complaint or inquiry (投诉/咨询) and its handling: open → dispatched → resolved → revisited → confirmed.

    ``category`` ``product_quality`` is routed to the ``quality`` role; ``opinion`` is the handling opinion sent
    back to the customer.
    """

    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    kind = pw.CharField(max_length=20, default="complaint")
    category = pw.CharField(max_length=30, default="service")
    subject = pw.CharField(max_length=300)
    details = pw.TextField(null=True)
    status = pw.CharField(max_length=20, default="open")
    assignee = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="assignee_id")
    opened_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="opened_by_id")
    opened_at = UTCDateTimeField(default=utcnow)
    due_at = UTCDateTimeField(null=True)
    dispatched_at = UTCDateTimeField(null=True)
    resolved_at = UTCDateTimeField(null=True)
    resolution = pw.TextField(null=True)
    opinion = pw.TextField(null=True)
    revisited_at = UTCDateTimeField(null=True)
    revisit_activity = pw.IntegerField(null=True)  # the core visit/call activity of the return visit
    survey_response = pw.ForeignKeyField(SurveyResponse, null=True, on_delete="SET NULL")
    confirmed_at = UTCDateTimeField(null=True)
    satisfied = pw.BooleanField(null=True)

    class Meta:
        table_name = "survey_complaint"
        indexes = ((("workspace", "status", "opened_at"), False), (("workspace", "customer"), False),
                   (("workspace", "assignee", "status"), False))


class ComplaintStep(TenantModel):
    """One recorded step of a complaint's handling, with who and when."""

    complaint = pw.ForeignKeyField(Complaint, backref="steps", on_delete="CASCADE")
    step = pw.CharField(max_length=30)
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = UTCDateTimeField(default=utcnow)
    notes = pw.TextField(null=True)

    class Meta:
        table_name = "survey_complaint_step"
        indexes = ((("workspace", "complaint", "at"), False),)


MODELS = [SurveyForm, SurveyResponse, Complaint, ComplaintStep]
NEW_IN_0002 = MODELS[1:]
