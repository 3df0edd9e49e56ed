"""Where uploaded files are kept (debtors' payment proofs, import files): Django's default
storage, chosen by the environment (config/settings/base.py reads the variables).

- `filesystem` (the default): under MEDIA_ROOT on this machine. Enough for the embedded mode
  and for one web machine with its worker on the same disk.
- `s3`: a bucket of S3-compatible object storage (AWS S3, MinIO, Ceph, Cloudflare R2…) through
  django-storages, so several web machines and workers read the same files.

The files are private either way: the bucket needs no public access (objects are written
without an ACL, so they keep the bucket's private default), the app serves a proof to the
tenant's users itself, and any URL the storage makes is signed and short-lived."""

from django.core.exceptions import ImproperlyConfigured

BACKENDS = ("filesystem", "s3")
SIGNED_URL_SECONDS = 300


def file_storage(
    *,
    backend: str,
    bucket: str = "",
    endpoint_url: str = "",
    access_key_id: str = "",
    secret_access_key: str = "",
    region: str = "",
) -> dict:
    """The STORAGES["default"] entry for these settings. Raises ImproperlyConfigured for an
    unknown backend or an S3 storage without its bucket."""
    backend = (backend or "filesystem").strip().lower()
    if backend == "filesystem":
        # Its location is MEDIA_ROOT, read when the storage is first used.
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if backend != "s3":
        raise ImproperlyConfigured(
            f"STORAGE_BACKEND={backend!r}: use one of {', '.join(BACKENDS)}."
        )
    if not bucket:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs S3_BUCKET.")
    options = {
        "bucket_name": bucket,
        "default_acl": None,  # the bucket's own (private) policy; never public-read
        "querystring_auth": True,  # every URL signed…
        "querystring_expire": SIGNED_URL_SECONDS,  # …and short-lived
        "signature_version": "s3v4",  # what every S3-compatible server takes
        "file_overwrite": False,  # a name taken gets another: never one upload over another
    }
    if endpoint_url:
        # S3-compatible servers other than AWS's are mostly addressed by path.
        options.update(endpoint_url=endpoint_url, addressing_style="path")
    if region:
        options["region_name"] = region
    if access_key_id or secret_access_key:
        # Unset: boto3's own chain (an instance role, AWS_* variables, ~/.aws).
        options.update(access_key=access_key_id, secret_key=secret_access_key)
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
