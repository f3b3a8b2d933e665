"""Alembic environment: runs on the connection the Store hands over, or on the configured URL."""

from alembic import context
from sqlalchemy import Connection, create_engine

from wgs_tre.store.models import Base

config = context.config
connection = config.attributes.get("connection")


def run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # developer use: `alembic -c wgs_tre/store/migrations/alembic.ini revision --autogenerate`
    from wgs_tre.config import load_settings

    engine = create_engine(load_settings().store_url)
    with engine.begin() as conn:
        run(conn)
