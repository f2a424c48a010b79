"""Tables of the survey plugin."""

import peewee as pw

from kehu.core.db import JSONField, UTCDateTimeField, utcnow
from kehu.core.models import TenantModel


class SurveyForm(TenantModel):
    """A survey form as data: questions of types scale, nps, choice and text."""

    key = pw.CharField(max_length=64)
    title = pw.CharField(max_length=200)
    questions = JSONField(default=list)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "survey_form"
        indexes = ((("workspace", "key"), True),)


MODELS = [SurveyForm]
