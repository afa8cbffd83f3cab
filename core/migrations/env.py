"""Alembic environment shared by the core and every plugin history. The location and
the version table are chosen by ``core.schema`` (``-x plugin=NAME``)."""

from alembic import context
from flask import current_app

config = context.config
db = current_app.extensions["migrate"].db
version_table = config.get_main_option("version_table") or "alembic_version"
tables = config.attributes.get("tables")


def include_object(obj, name, type_, reflected, compare_to):
    """Autogenerate compares only the tables of the history being written."""
    table_name = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", name)
    return tables is None or table_name in tables


def process_revision_directives(ctx, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []


with db.engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=db.metadata,
        version_table=version_table,
        include_object=include_object,
        process_revision_directives=process_revision_directives,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
