"""Core services: one function per operation, each validating, checking permission, auditing and firing hooks.

Each module ends with ``SERVICES``, the names embedding callers reach through ``app.workspace(...).<area>``.
"""
