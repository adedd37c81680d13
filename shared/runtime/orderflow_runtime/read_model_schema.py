"""Making a read model's tables, and the indexes added to them since they were made.

`MetaData.create_all` makes only the tables that are missing, each with its indexes: an
index added to a model later would never reach a database made before. A new column
still means a new table (a new version of the model, filled from the store); a new
index does not: it is made at the next start, on the rows already there.
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, inspect
from sqlalchemy.exc import DBAPIError


def create_schema(metadata: MetaData, engine: Engine) -> None:
    """The model's missing tables, and the missing indexes of the tables already there."""
    metadata.create_all(engine)
    for table in metadata.sorted_tables:
        for index in table.indexes:
            try:
                index.create(engine, checkfirst=True)
            except DBAPIError:  # another replica starting made it first
                if not inspect(engine).has_index(table.name, str(index.name)):
                    raise
