"""The upload field shared by the pages that take a file."""

from django.utils.translation import gettext as _


def file_upload_error(request, *, max_bytes: int) -> str:
    """Why the form's `file` cannot be taken (none chosen, too large), or "" when it can."""
    upload = request.FILES.get("file")
    if upload is None:
        return _("Choose a file.")
    if upload.size > max_bytes:
        return _("The file is too large (at most %(mb)s MB).") % {"mb": max_bytes >> 20}
    return ""
