"""Uploaded files (debtors' payment proofs, import files) go through Django's storage, which the
environment points at S3-compatible object storage (STORAGE_BACKEND=s3): tested against a local
S3-compatible server (moto's, on 127.0.0.1). A file one machine writes is read by another (a
fresh storage, as a second web machine or the worker has); the files stay private: the
dashboard serves a proof to its tenant's users only, the objects carry no public grant and any
URL the storage makes is signed and short-lived. Unset, the storage is the local disk."""

import importlib
import os
import uuid
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.utils.module_loading import import_string
from django_scopes import scopes_disabled

from collections_app.models import ImportJob, ImportStatus, Invoice
from config.storage import SIGNED_URL_SECONDS, file_storage
from tenants.models import Role
from tests.collections_app.imports.test_import import GOOD, csv_bytes
from tests.collections_app.imports.test_import_ui import form, uploaded
from tests.collections_app.payments.test_payment_page import claim_with_proof
from tests.conftest import require_service
from tests.tenants.factories import MembershipFactory

ACCESS_KEY, SECRET_KEY, REGION = "regua-test", "regua-test-secret", "us-east-1"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


# Settings ------------------------------------------------------------------------------------


def test_unset_the_files_stay_on_the_local_disk_under_media_root():
    assert file_storage(backend="") == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert file_storage(backend="filesystem") == file_storage(backend="")


def test_s3_takes_its_bucket_endpoint_keys_and_region_and_stays_private():
    entry = file_storage(
        backend="S3",
        bucket="regua-files",
        endpoint_url="https://minio.internal:9000",
        access_key_id="AK",
        secret_access_key="SK",
        region="sa-east-1",
    )
    assert entry["BACKEND"] == "storages.backends.s3.S3Storage"
    options = entry["OPTIONS"]
    assert options["bucket_name"] == "regua-files"
    assert options["endpoint_url"] == "https://minio.internal:9000"
    assert (options["access_key"], options["secret_key"]) == ("AK", "SK")
    assert options["region_name"] == "sa-east-1"
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert options["querystring_expire"] == SIGNED_URL_SECONDS <= 600
    assert options["file_overwrite"] is False
    import_string(entry["BACKEND"])  # django-storages is installed with the app


@pytest.mark.parametrize(
    ("options", "message"),
    [({"backend": "s3"}, "S3_BUCKET"), ({"backend": "ftp"}, "STORAGE_BACKEND")],
)
def test_a_storage_misconfigured_stops_the_start_with_a_clear_error(options, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        file_storage(**options)


def test_the_settings_read_the_storage_from_the_environment():
    variables = {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": "from-env",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "S3_ACCESS_KEY_ID": "AK",
        "S3_SECRET_ACCESS_KEY": "SK",
        "S3_REGION": "sa-east-1",
    }
    import config.settings.base as base

    try:
        with mock.patch.dict(os.environ, variables):
            importlib.reload(base)
            default = base.STORAGES["default"]
        assert default["BACKEND"] == "storages.backends.s3.S3Storage"
        assert default["OPTIONS"]["bucket_name"] == "from-env"
        assert default["OPTIONS"]["endpoint_url"] == "http://127.0.0.1:9000"
    finally:
        importlib.reload(base)
    assert base.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage")


# Against a local S3-compatible server ---------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint():
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        require_service(False, "moto[server] is not installed (make setup installs it)")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, tmp_path, monkeypatch):
    """A new private bucket, and the app's storage pointed at it; MEDIA_ROOT an empty directory
    that must stay empty."""
    import boto3

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    name = f"regua-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )
    client.create_bucket(Bucket=name)
    entry = file_storage(
        backend="s3",
        bucket=name,
        endpoint_url=s3_endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        region=REGION,
    )
    settings.STORAGES = {**settings.STORAGES, "default": entry}
    settings.MEDIA_ROOT = tmp_path / "media"
    assert default_storage.__class__.__name__  # the storage is made again from the settings
    return {"name": name, "client": client, "entry": entry, "media": tmp_path / "media"}


@pytest.fixture
def debtor(tenant_a):
    """A tenant whose payment page takes "I already paid" (as the payment page's tests set)."""
    tenant_a.pix_key = "12345678000195"
    tenant_a.merchant_name = "Escola Aurora"
    tenant_a.merchant_city = "São Paulo"
    tenant_a.save()
    return tenant_a


def second_machine(bucket):
    """A storage as another machine makes it from the same settings: nothing shared in memory."""
    return import_string(bucket["entry"]["BACKEND"])(**bucket["entry"]["OPTIONS"])


def nothing_on_disk(bucket) -> bool:
    media = bucket["media"]
    return not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_a_proof_is_kept_in_the_bucket_and_served_to_the_tenant_only(
    bucket, client, debtor, settings, login, outsider
):
    claim = claim_with_proof(client, debtor, settings)
    settings.MEDIA_ROOT = bucket["media"]  # claim_with_proof points it elsewhere: still unused
    name = claim.proof.name
    assert name.startswith("proofs/")
    # Another machine reads it from the bucket.
    with second_machine(bucket).open(name, "rb") as kept:
        assert kept.read() == b"%PDF-1.4 receipt"
    assert nothing_on_disk(bucket)
    # Private: no public grant on the object, and a URL to it is signed and expires.
    grants = bucket["client"].get_object_acl(Bucket=bucket["name"], Key=name)["Grants"]
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in grants)
    url = second_machine(bucket).url(name)
    assert "X-Amz-Signature=" in url and f"X-Amz-Expires={SIGNED_URL_SECONDS}" in url
    # The dashboard serves it to the tenant's admin, through the app; another tenant gets 404.
    admin = MembershipFactory(tenant=debtor, role=Role.ADMIN).user
    proof = login(admin).get(f"/claims/{claim.pk}/proof/")
    assert proof.status_code == 200 and proof["Content-Type"] == "application/pdf"
    assert b"".join(proof.streaming_content) == b"%PDF-1.4 receipt"
    assert login(outsider).get(f"/claims/{claim.pk}/proof/").status_code == 404


def test_an_import_file_is_kept_in_the_bucket_read_by_the_worker_and_dropped_once_written(
    bucket, login, agent, tenant_a, start
):
    client = login(agent)
    content = csv_bytes(*GOOD)
    job = uploaded(client, content)
    name = job.file.name
    assert name.startswith(f"imports/{tenant_a.pk}/")
    with second_machine(bucket).open(name, "rb") as kept:
        assert kept.read() == content
    assert nothing_on_disk(bucket)

    start(client, job, form(job))  # the worker reads the file from the bucket
    with scopes_disabled():
        job.refresh_from_db()
        assert job.status == ImportStatus.DONE and job.imported == 2
        assert Invoice.objects.filter(tenant=tenant_a).count() == 2
        assert not job.file
    listed = bucket["client"].list_objects_v2(Bucket=bucket["name"], Prefix="imports/")
    assert listed.get("KeyCount", 0) == 0  # written: the file is gone from the bucket too


def test_a_draft_deleted_takes_its_file_out_of_the_bucket(
    bucket, login, agent, django_capture_on_commit_callbacks
):
    job = uploaded(login(agent), csv_bytes(*GOOD))
    assert second_machine(bucket).exists(job.file.name)
    with django_capture_on_commit_callbacks(execute=True), scopes_disabled():
        ImportJob.objects.filter(pk=job.pk).delete()
    assert not second_machine(bucket).exists(job.file.name)
