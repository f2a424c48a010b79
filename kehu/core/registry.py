"""What the plugins registered, collected once per plugin manager and tagged with the plugin's name."""

import attrs

from kehu.core.plugins import call_each
from kehu.errors import Invalid

JOB_PERIODS = ("tick", "day", "month", "quarter", "year")
ROLE_SCOPES = ("own", "unit", "all")


@attrs.frozen
class SchemaSpec:
    plugin: str
    models: tuple
    migrations: str | None


@attrs.frozen
class JobSpec:
    plugin: str
    name: str
    function: object
    every: str


@attrs.frozen
class RoleSpec:
    plugin: str
    key: str
    rank: int
    scope: str
    permissions: tuple
    label: str


@attrs.frozen
class ReportSpec:
    plugin: str
    name: str
    function: object
    description: str


@attrs.frozen
class PolicySpec:
    plugin: str
    name: str
    default: object
    validate: object


class Registry:
    """Models, services, jobs, roles, policies, reports, templates and strategies, by plugin."""

    def __init__(self, pm):
        self.pm = pm
        self.schemas = {}
        self.services = {}
        self.jobs = {}
        self.roles = {}
        self.policies = {}
        self.reports = {}
        self.templates = {}
        self.strategies = {}
        call_each(pm, "kehu_register_models", lambda p: {"register": self._models_for(p)})
        call_each(pm, "kehu_register_services", lambda p: {"register": self._services_for(p)})
        call_each(pm, "kehu_register_jobs", lambda p: {"register": self._jobs_for(p)})
        call_each(pm, "kehu_register_roles", lambda p: {"register": self._roles_for(p)})
        call_each(pm, "kehu_register_policies", lambda p: {"register": self._policies_for(p)})
        call_each(pm, "kehu_register_reports", lambda p: {"register": self._reports_for(p)})
        call_each(pm, "kehu_register_templates", lambda p: {"register": self._named_for(p, self.templates)})
        call_each(pm, "kehu_assignment_strategies", lambda p: {"register": self._named_for(p, self.strategies)})

    @staticmethod
    def _claim(table, key, plugin, what):
        if key in table:
            raise RuntimeError(f"{what} {key!r} registered by both {table[key].plugin} and {plugin}")

    def _models_for(self, plugin):
        def register(models, migrations=None):
            if plugin in self.schemas:
                raise RuntimeError(f"plugin {plugin} registered its models twice")
            self.schemas[plugin] = SchemaSpec(plugin, tuple(models), str(migrations) if migrations else None)

        return register

    def _services_for(self, plugin):
        def register(namespace, functions):
            if namespace in self.services:
                raise RuntimeError(f"service namespace {namespace!r} registered by both "
                                   f"{self.services[namespace][0]} and {plugin}")
            self.services[namespace] = (plugin, dict(functions))

        return register

    def _jobs_for(self, plugin):
        def register(name, function, every="tick"):
            if every not in JOB_PERIODS:
                raise RuntimeError(f"job {name}: every must be one of {', '.join(JOB_PERIODS)}")
            self._claim(self.jobs, name, plugin, "job")
            self.jobs[name] = JobSpec(plugin, name, function, every)

        return register

    def _roles_for(self, plugin):
        def register(key, rank=0, scope="own", permissions=(), label=""):
            if scope not in ROLE_SCOPES:
                raise RuntimeError(f"role {key}: scope must be one of {', '.join(ROLE_SCOPES)}")
            self._claim(self.roles, key, plugin, "role")
            self.roles[key] = RoleSpec(plugin, key, rank, scope, tuple(permissions), label)

        return register

    def _policies_for(self, plugin):
        def register(name, default, validate=None):
            self._claim(self.policies, name, plugin, "policy")
            if validate is not None:
                validate(default)
            self.policies[name] = PolicySpec(plugin, name, default, validate)

        return register

    def _reports_for(self, plugin):
        def register(name, function, description=""):
            self._claim(self.reports, name, plugin, "report")
            self.reports[name] = ReportSpec(plugin, name, function, description)

        return register

    def _named_for(self, plugin, table):
        def register(name, value):
            if name in table:
                raise RuntimeError(f"{name!r} registered twice (by {table[name][0]} and {plugin})")
            table[name] = (plugin, value)

        return register

    def policy(self, name):
        try:
            return self.policies[name]
        except KeyError:
            raise Invalid(f"unknown policy {name!r}") from None
