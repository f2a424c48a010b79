"""Fixtures for the survey plugin tests: the call center's workspace ``acme`` (see
``tests/plugins/callcenter/conftest.py`` for its org tree, users, customers and clock) plus ``qa``, a user of
the ``quality`` role the survey plugin adds (at 总公司).

``crm.as_(login, now)`` is a handle whose ``.survey`` and ``.complaints`` namespaces call the services.
"""

import pytest

from callcenter.conftest import CREATED, SHANGHAI, T0, TZ, build_callcenter_crm  # noqa: F401 - re-exported


def build_survey_crm(app):
    crm = build_callcenter_crm(app)
    crm.as_("admin", CREATED).users.add("qa", "quality", unit="总公司")
    return crm


@pytest.fixture
def crm(kehu_app):
    """Workspace ``acme`` (a user of every role, quality included; eight customers with mobiles) and ``other``."""
    return build_survey_crm(kehu_app)
