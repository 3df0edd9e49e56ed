"""Request bodies are capped before they are read: a body whose Content-Length passes its
route's limit is a 413 without a byte read, and a body streamed without a Content-Length is
read no further than the limit."""

import io

from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope

from collections_app.body_limits import FORM_MARGIN, body_limit
from collections_app.imports.jobs import MAX_BYTES as IMPORT_MAX_BYTES
from collections_app.models import PaymentClaim
from tests.collections_app.factories import InvoiceFactory

MIB = 1024 * 1024


class Unreadable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, size=-1):
        raise AssertionError("the body was read")

    readline = read


class Counting(io.BytesIO):
    """A streamed body that counts the bytes read from it."""

    taken = 0

    def read(self, size=-1):
        data = super().read(size)
        self.taken += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.taken += len(data)
        return data


def _claims(tenant) -> int:
    with scope(tenant=tenant):
        return PaymentClaim.objects.count()


def test_the_middleware_comes_first():
    assert django_settings.MIDDLEWARE[0] == (
        "collections_app.body_limits.RequestBodyLimitMiddleware"
    )


def test_a_hundred_megabyte_proof_is_refused_unread(client, tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a)
    answer = client.post(
        f"/p/{invoice.payment_token}/paid",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(100 * MIB),
        **{"wsgi.input": Unreadable()},
    )
    assert answer.status_code == 413
    assert "MB" in answer.content.decode()
    assert _claims(tenant_a) == 0


def test_a_streamed_proof_is_read_no_further_than_the_limit(client, tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a)
    limit = body_limit(f"/p/{invoice.payment_token}/paid")
    body = Counting(
        b'--x\r\nContent-Disposition: form-data; name="proof"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF" + b"0" * (limit + MIB) + b"\r\n--x--\r\n"
    )
    environ = {
        "PATH_INFO": f"/p/{invoice.payment_token}/paid",
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "multipart/form-data; boundary=x",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": body,
    }
    answer = client.request(**environ)
    assert answer.status_code == 413
    assert body.taken <= limit + 1
    assert _claims(tenant_a) == 0


def test_a_proof_within_the_limit_is_taken(client, tenant_a, settings):
    settings.MEDIA_ROOT = settings.VAR_DIR / "test-media"
    invoice = InvoiceFactory(tenant=tenant_a)
    proof = SimpleUploadedFile("comprovante.pdf", b"%PDF-1.4 receipt", "application/pdf")
    answer = client.post(f"/p/{invoice.payment_token}/paid", {"proof": proof})
    assert answer.status_code == 302
    assert _claims(tenant_a) == 1


def test_each_route_allows_what_its_view_accepts_and_a_form_beside_it(settings):
    assert body_limit("/p/abc/paid") == settings.PAYMENT_PROOF_MAX_BYTES + FORM_MARGIN
    assert body_limit("/imports/") == IMPORT_MAX_BYTES + FORM_MARGIN
    assert body_limit("/bank/") == 20 * MIB + FORM_MARGIN
    assert body_limit("/api/v1/invoices/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + FORM_MARGIN


def test_an_api_body_over_the_limit_is_a_413(api_a):
    answer = api_a.post(
        "/api/v1/invoices/",
        b"[" + b" " * (body_limit("/api/v1/invoices/") + 1) + b"]",
        content_type="application/json",
    )
    assert answer.status_code == 413


def test_a_small_streamed_proof_is_taken_with_its_length(client, tenant_a, settings):
    settings.MEDIA_ROOT = settings.VAR_DIR / "test-media"
    invoice = InvoiceFactory(tenant=tenant_a)
    body = Counting(
        b'--x\r\nContent-Disposition: form-data; name="proof"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4 receipt\r\n--x--\r\n"
    )
    answer = client.request(
        PATH_INFO=f"/p/{invoice.payment_token}/paid",
        REQUEST_METHOD="POST",
        CONTENT_TYPE="multipart/form-data; boundary=x",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": body},
    )
    assert answer.status_code == 302
    with scope(tenant=tenant_a):
        assert PaymentClaim.objects.get().proof.read() == b"%PDF-1.4 receipt"
