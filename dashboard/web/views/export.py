"""CSV export of the instances list: the page's filters and sort, its chosen columns
(``dashboard.web.columns``, after the name and id) and its
isolation (the same selector, the same row builder), every matching row — not one page —
streamed in keyset-paged chunks, so a list of any length costs the server one chunk of memory
and the download starts at once.

A formula-looking cell (``=``, ``+``, ``-``, ``@``, tab, CR) is prefixed with ``'``, so a
spreadsheet never runs an instance name as a formula (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from io import StringIO

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from compute.context import RequestContext
from compute.exceptions import ComputeError
from compute.models import Instance
from compute.selectors import instance_list, paginate
from dashboard.web.columns import Column
from dashboard.web.forms import InstanceFilterForm
from dashboard.web.pages import begin
from dashboard.web.rows import InstanceRow, instance_rows
from dashboard.web.views.instances import list_filters, shown_columns

#: Rows read per query while streaming.
CHUNK = 500
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _columns(shown: list[Column]) -> list[tuple[str, object]]:
    """(header, how to read a row) in the page's order: the name and id, then the page's
    chosen columns (headers are the API's field names, in every language)."""
    columns: list[tuple[str, object]] = [
        ("name", lambda r: r.instance.name),
        ("id", lambda r: r.uuid),
    ]
    return columns + [(c.key, c.read) for c in shown]


def _lines(
    selected: object, context: RequestContext, columns: list[tuple[str, object]]
) -> Iterator[str]:
    buffer = StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow([header for header, _ in columns])
    yield flush()
    marker = None
    while True:
        chunk: list[Instance] = paginate(selected, limit=CHUNK, marker=marker, context=context)  # type: ignore[arg-type]
        if not chunk:
            return
        rows: list[InstanceRow] = instance_rows(chunk, context)
        for row in rows:
            writer.writerow([_cell(read(row)) for _, read in columns])  # type: ignore[operator]
        yield flush()
        if len(chunk) < CHUNK:
            return
        marker = str(chunk[-1].uuid)


@login_required
@require_GET
def instance_export_view(request: HttpRequest) -> HttpResponse:
    page = begin(request)
    form = InstanceFilterForm(request.GET)
    filters = list_filters(page, form)
    context = page.scope.context
    try:
        selected = instance_list(context=context, filters=filters).select_related("project")
    except ComputeError as error:
        return HttpResponse(error.message, status=error.code, content_type="text/plain")
    shown, _offered = shown_columns(page, request)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        _lines(selected, context, _columns(shown)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="instances-{stamp}.csv"'
    return response
