"""Database expressions shared by several apps."""

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, Func, JSONField, Value
from django.db.models.sql.compiler import SQLCompiler


class JSONArrayAppend(Func):
    """A JSON array column with one item added at its end, in the database.

    `UPDATE … SET trace = JSONArrayAppend("trace", step)` adds a step in one statement: no
    row read first, and no lock held between a read and the write, which two writers of
    the same row would otherwise need.
    """

    output_field = JSONField()
    #: Per database: the array (NULL counts as empty), then the item as JSON text.
    templates = {
        "postgresql": "COALESCE({array}, '[]'::jsonb) || jsonb_build_array({item})",
        "sqlite": "json_insert(COALESCE({array}, '[]'), '$[#]', json({item}))",
    }

    def __init__(self, array: str | Expression, item: Any) -> None:
        super().__init__(array, Value(item, output_field=JSONField()))

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        template = self.templates.get(connection.vendor)
        if template is None:
            raise NotImplementedError(f"JSONArrayAppend has no SQL for {connection.vendor}")
        array_sql, array_params = compiler.compile(self.source_expressions[0])
        item_sql, item_params = compiler.compile(self.source_expressions[1])
        return template.format(array=array_sql, item=item_sql), [*array_params, *item_params]
