"""Annotation studio: a small, safe-by-default web app where people label, review and agree.

Modules: ``db`` (SQLAlchemy models, engine), ``security`` (passwords, secret, sessions, CSRF,
rate limit, headers), ``assign`` (who labels what next, concurrency-safe), ``projects``
(loading records, agreement, review queue), ``export`` (final labels + every annotation),
``web`` (FastAPI routes, Jinja2 pages), ``cli`` (``tuneprep studio ...``).
Heavy imports (FastAPI, SQLAlchemy, argon2) stay inside this package; nothing imports it at
``tuneprep --help`` time except the CLI registration, which imports only Typer.
"""
