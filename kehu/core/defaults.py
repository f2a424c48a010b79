"""Core's own hook implementations, registered like a plugin but always on (it cannot be disabled)."""

from pathlib import Path

from kehu.core.hookspecs import hookimpl
from kehu.core.models import CORE_MODELS
from kehu.core.services import activities, contacts, customers, opportunities, org, records, reports, users, workspaces


@hookimpl
def kehu_register_models(register):
    register(CORE_MODELS, migrations=Path(__file__).parent / "migrations")


@hookimpl
def kehu_register_services(register):
    register("customers", customers.SERVICES)
    register("contacts", contacts.SERVICES)
    register("opportunities", opportunities.SERVICES)
    register("activities", activities.SERVICES)
    register("users", users.SERVICES)
    register("org", org.SERVICES)
    register("plugins", workspaces.SERVICES)
    register("audit", records.AUDIT_SERVICES)
    register("fields", records.FIELD_SERVICES)
    register("inbox", records.INBOX_SERVICES)


@hookimpl
def kehu_register_jobs(register):
    register("core.task_reminders", activities.remind_due_tasks, every="tick")


@hookimpl
def kehu_register_reports(register):
    register("activity-summary", reports.activity_summary, "activities per user and kind")


@hookimpl(trylast=True)
def kehu_notify(context, notifications):
    records.store_notifications(context, notifications)
