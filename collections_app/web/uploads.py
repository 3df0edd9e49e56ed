"""The upload field shared by the pages that take a file."""

from django.contrib import messages
from django.utils.translation import gettext as _


def file_upload(request, *, max_bytes: int):
    """The form's `file`, or None after telling the user why not (none chosen, too large)."""
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file."))
    elif upload.size > max_bytes:
        messages.error(
            request, _("The file is too large (at most %(mb)s MB).") % {"mb": max_bytes >> 20}
        )
    else:
        return upload
    return None
