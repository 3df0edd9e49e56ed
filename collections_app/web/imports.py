"""The import screens: upload a spreadsheet, map its columns with a preview, follow the job's
progress live, download the error report."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from collections_app.imports.column_formats import DATE_FORMATS
from collections_app.imports.importer import ImportFileError, template_csv
from collections_app.imports.jobs import (
    MAX_BYTES,
    date_format_from_form,
    import_job_create,
    import_job_start,
    import_progress,
    mapping_from_form,
    preview,
)
from collections_app.imports.mapping import FIELDS, date_columns, mapping_field_problems
from collections_app.models import ImportJob, ImportStatus
from collections_app.web.uploads import file_upload_error
from tenants.decorators import tenant_required


@require_http_methods(["GET", "POST"])
@tenant_required("agent")
def imports(request):
    """The upload form and the tenant's recent imports."""
    if request.method == "POST":
        if error := file_upload_error(request, max_bytes=MAX_BYTES):
            return imports_page(request, file_error=error, status=400)
        upload = request.FILES["file"]
        try:
            job = import_job_create(
                tenant=request.tenant,
                filename=upload.name or "",
                content=upload.read(),
                actor=request.user,
            )
        except ImportFileError as exc:
            error = _("The file was not read: %(error)s") % {"error": exc}
            return imports_page(request, file_error=error, status=400)
        return redirect("import_detail", pk=job.pk)
    return imports_page(request)


def imports_page(request, *, file_error: str = "", status: int = 200):
    """The upload form and the recent imports; `file_error` (a file refused) is told beside
    the file field, answered `status`."""
    jobs = ImportJob.objects.defer("errors_report", "sample").select_related("uploaded_by")[:30]
    context = {"jobs": jobs, "file_errors": [file_error] if file_error else []}
    return render(request, "collections/imports.html", context, status=status)


def _job(pk: int, **filters) -> ImportJob:
    """The job without its error report, which can be large (`job.file` says whether its
    file is still kept: a refused import can run again while it is)."""
    jobs = ImportJob.objects.defer("errors_report").select_related("uploaded_by")
    return get_object_or_404(jobs, pk=pk, **filters)


def _problems(
    job: ImportJob, mapping: dict[str, int], date_format: str, *, ask_dates: bool = True
) -> list[tuple[str, str]]:
    return mapping_field_problems(
        mapping,
        headers=job.headers,
        profiles=job.column_formats,
        date_format=date_format,
        ask_dates=ask_dates,
    )


def _mapping_context(
    job: ImportJob, mapping: dict[str, int], date_format: str, *, refused=None, mode: str = "all"
) -> dict:
    """The mapping form and its preview; `refused` (the problems that kept the mapping from
    starting, from `_problems`) puts each beside the select or the date format it concerns,
    and one about the whole mapping at the top of the form."""
    dates = date_columns(
        mapping, headers=job.headers, profiles=job.column_formats, date_format=date_format
    )
    errors: dict[str, list[str]] = {}
    for concerns, problem in refused or []:
        errors.setdefault(concerns, []).append(problem)
    # A whole mapping's problem (required fields left out) also marks the selects left empty.
    unmapped = bool(errors.get(""))
    bad = [
        name
        for name, (_label, required) in FIELDS.items()
        if name in errors or (unmapped and required and name not in mapping)
    ]
    # The first field to fix takes the focus: a select, else the date format's chosen radio.
    focus = f"map-{bad[0]}" if bad else ""
    if not focus and "date_format" in errors:
        chosen = date_format if date_format in DATE_FORMATS else next(iter(DATE_FORMATS))
        focus = f"date_format-{chosen}"
    return {
        "job": job,
        "fields": [
            {
                "name": name,
                "label": label,
                "required": required,
                "column": mapping.get(name),
                "errors": errors.get(name, []),
                "missing": unmapped and required and name not in mapping,
            }
            for name, (label, required) in FIELDS.items()
        ],
        "form_errors": errors.get("", []),
        "focus": focus,
        "date_format_errors": errors.get("date_format", []),
        "columns": list(enumerate(job.headers)),
        "preview": preview(job, mapping, date_format),
        # An ambiguous date column is asked for beside the date format, with its examples; a
        # refused mapping's problems are beside their fields instead of in the preview.
        "problems": []
        if refused
        else [problem for _c, problem in _problems(job, mapping, date_format, ask_dates=False)],
        "date_format": date_format,
        "mode": mode,
        "date_formats": list(DATE_FORMATS.items()),
        "date_columns": dates,
        "ask_date_format": any(column["order"] is None for column in dates),
    }


@require_http_methods(["GET", "POST"])
@tenant_required("agent")
def import_detail(request, pk: int):
    """A draft: the mapping form and its preview; a job: its progress or its outcome. POST
    starts the job (or runs a refused one again with only its valid rows)."""
    job = _job(pk)
    if request.method == "POST":
        if job.status == ImportStatus.REFUSED and request.POST.get("valid_only_now"):
            mapping, valid_only, date_format = job.mapping, True, job.date_format
        elif job.status == ImportStatus.FAILED and job.written_through:
            # Finish a job cut short after some rows were written, as it was started.
            mapping, valid_only, date_format = job.mapping, job.valid_only, job.date_format
        else:
            mapping = mapping_from_form(job, request.POST)
            date_format = date_format_from_form(request.POST)
            valid_only = request.POST.get("mode") == "valid_only"
            problems = _problems(job, mapping, date_format)
            if problems:
                return render(
                    request,
                    "collections/import_detail.html",
                    _mapping_context(
                        job, mapping, date_format, refused=problems, mode=request.POST.get("mode")
                    ),
                    status=400,
                )
        try:
            import_job_start(
                job=job, mapping=mapping, valid_only=valid_only, date_format=date_format
            )
        except ImportFileError as exc:
            messages.error(request, str(exc))
        return redirect("import_detail", pk=job.pk)
    context = {}
    if job.status == ImportStatus.DRAFT:
        context = _mapping_context(job, job.mapping, job.date_format)
    context.update(job=job, progress=_progress(job), first_errors=_first_errors(job))
    return render(request, "collections/import_detail.html", context)


@require_POST
@tenant_required("agent")
def import_preview(request, pk: int):
    """The preview for the mapping being chosen (HTMX, on each change)."""
    job = _job(pk, status=ImportStatus.DRAFT)
    mapping = mapping_from_form(job, request.POST)
    context = _mapping_context(job, mapping, date_format_from_form(request.POST))
    return render(request, "collections/_import_preview.html", context)


def _first_errors(job: ImportJob) -> list[dict]:
    """The job's first errors (its page lists them; the CSV report has them all)."""
    return [
        {**error, "label": FIELDS[error["field"]][0] if error["field"] in FIELDS else ""}
        for error in job.first_errors
    ]


def _progress(job: ImportJob) -> dict:
    total = max(2 * job.rows, 1)
    if job.finished:
        done = total
    else:
        done = min((import_progress(job) or {}).get("done", 0), total)
    return {"percent": 100 * done // total}


@require_GET
@tenant_required("agent")
def import_status(request, pk: int):
    """The progress bar, polled while the job runs; once it ends, the outcome (and the page
    stops polling, since the outcome has no trigger)."""
    job = _job(pk)
    context = {"job": job, "progress": _progress(job), "first_errors": _first_errors(job)}
    return render(request, "collections/_import_status.html", context)


@require_GET
@tenant_required("agent")
def import_errors(request, pk: int):
    """The error report: each failing row as it was in the file, with its errors."""
    job = get_object_or_404(ImportJob, pk=pk)
    if not job.errors_report:
        return HttpResponse(_("This import has no errors."), status=404)
    response = HttpResponse(job.errors_report.encode("utf-8-sig"), content_type="text/csv")
    stem = job.filename.rsplit(".", 1)[0] or "importacao"
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}-erros.csv")
    return response


@require_GET
@tenant_required("agent")
def import_template(request):
    """A model spreadsheet: the headers the mapping recognises, and an example row."""
    response = HttpResponse(template_csv().encode("utf-8-sig"), content_type="text/csv")
    response["Content-Disposition"] = content_disposition_header(True, "modelo-faturas.csv")
    return response
