"""``kehu tick``: run every enabled plugin's due jobs, each at most once per period per workspace."""

from peewee import IntegrityError

from kehu.core.db import database
from kehu.core.models import JobRun
from kehu.core.timeutil import period_key


def _claim_period(context, job, period):
    """Record that ``job`` runs for ``period``; ``False`` when it already ran or another worker claimed it.

    The update is conditional on the period it read, so two ``kehu tick`` workers never both win.
    """
    with database.atomic():
        row = JobRun.get_or_none(JobRun.workspace == context.workspace, JobRun.job == job)
        if row is None:
            try:
                with database.atomic():
                    JobRun.create(workspace=context.workspace, job=job, period=period, ran_at=context.now)
            except IntegrityError:
                return False
            return True
        if row.period == period:
            return False
        return JobRun.update(period=period, ran_at=context.now).where(
            JobRun.id == row.id, JobRun.period == row.period).execute() == 1


def _release_period(context, job, previous):
    """Undo a claim after the job failed, so the next tick retries it."""
    query = JobRun.update(period=previous or "") if previous else JobRun.delete()
    query.where(JobRun.workspace == context.workspace, JobRun.job == job).execute()


def run_due_jobs(context):
    """Run the workspace's due jobs; returns ``[{"job", "plugin", "ran", "result" | "error"}]``."""
    results = []
    for spec in context.app.registry.jobs.values():
        if not context.plugin_enabled(spec.plugin):
            continue
        entry = {"job": spec.name, "plugin": spec.plugin}
        if spec.every != "tick":
            period = period_key(context.now, context.tz, spec.every)
            previous = JobRun.select(JobRun.period).where(JobRun.workspace == context.workspace,
                                                          JobRun.job == spec.name).scalar()
            if previous == period or not _claim_period(context, spec.name, period):
                results.append({**entry, "ran": False, "period": period})
                continue
            entry["period"] = period
        try:
            entry["result"] = spec.function(context)
            entry["ran"] = True
        except Exception as exc:  # one failing job must not stop the others
            if spec.every != "tick":
                _release_period(context, spec.name, previous)
            entry.update(ran=False, error=f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")
        results.append(entry)
    return results
