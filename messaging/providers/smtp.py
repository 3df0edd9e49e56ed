"""E-mail through any SMTP server, with Django's SMTP backend.

Credentials: `host`, `port`, `username`, `password` and `security` ("starttls", "ssl" or
"none"). The message's reference goes in the `Message-ID` header, so a bounce can be matched
to it; the one-click unsubscribe headers are set.

The server goes through the outbound policy (`messaging.outbound`) when the message leaves: the
host is resolved once, every address must be public and the port an SMTP one, and the
connection goes to that checked address (TLS still checks the host's name). A server that
cannot be reached is reported in the same general words whatever the socket said, so the
error does not tell a refused port from a closed one."""

import logging
import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.utils.translation import gettext as _

from messaging.outbound import UnsafeAddress, outbound_addresses, smtp_port_check
from messaging.providers.base import OutgoingMessage, Provider, SendResult, TransportError

logger = logging.getLogger(__name__)


def smtp_address(credentials: dict) -> tuple[str, int, str]:
    """The host, port and security an account's credentials name (the port defaults by
    security: 465 for SSL/TLS, else 587). ValueError if the port is not a number."""
    security = credentials.get("security") or "starttls"
    port = int(credentials.get("port") or (465 if security == "ssl" else 587))
    return str(credentials.get("host") or "").strip(), port, security


class _PinnedSMTPMixin:
    """Connects to `address` (checked by the outbound policy) instead of resolving the host
    again; `_host`, which STARTTLS and SMTP over SSL verify the certificate against, stays the
    name."""

    def __init__(self, *args, address: str, **kwargs):
        self.address = address
        super().__init__(*args, **kwargs)

    # Set once the whole message (after DATA's 354) has been written to the server: a failure
    # from then on is the server's final answer not arriving, not a refusal.
    body_written = False
    _in_data = False

    def _get_socket(self, host, port, timeout):
        return super()._get_socket(self.address, port, timeout)

    def data(self, msg):
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s):
        super().send(s)
        # Inside DATA the commands are text ("data"); the message itself is bytes.
        if self._in_data and isinstance(s, bytes):
            self.body_written = True


class _PinnedSMTP(_PinnedSMTPMixin, smtplib.SMTP):
    pass


class _PinnedSMTPSSL(_PinnedSMTPMixin, smtplib.SMTP_SSL):
    pass


class _PinnedBackend(EmailBackend):
    def __init__(self, *args, address: str, **kwargs):
        self.address = address
        super().__init__(*args, **kwargs)

    opened = None

    @property
    def connection_class(self):
        def connect(*args, **kwargs):
            cls = _PinnedSMTPSSL if self.use_ssl else _PinnedSMTP
            self.opened = cls(*args, address=self.address, **kwargs)
            return self.opened

        return connect


class SMTPProvider(Provider):
    kind = "smtp"

    def send(self, message: OutgoingMessage) -> SendResult:
        creds = self.credentials
        host = creds.get("host")
        if not host:
            raise TransportError("SMTP host is not configured", permanent=True)
        try:
            host, port, security = smtp_address(creds)
        except (TypeError, ValueError):
            # Saved before ports were checked: say so instead of failing with a traceback.
            raise TransportError(
                f"SMTP port {creds.get('port')!r} is not a number", permanent=True
            ) from None
        try:
            smtp_port_check(port)
            address = outbound_addresses(host, port)[0]
        except UnsafeAddress as exc:
            raise TransportError(str(exc), permanent=True) from exc
        backend = _PinnedBackend(
            address=address,
            host=host,
            port=port,
            username=creds.get("username") or None,
            password=creds.get("password") or None,
            use_tls=security == "starttls",
            use_ssl=security == "ssl",
            timeout=settings.PROVIDER_TIMEOUT_SECONDS,
            fail_silently=False,
        )
        domain = (self.sender or settings.DEFAULT_FROM_EMAIL).rpartition("@")[2] or None
        message_id = make_msgid(idstring=message.ref, domain=domain)
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=self.sender or settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            headers={"Message-ID": message_id, **message.headers},
            connection=backend,
        )
        if message.html_body:
            email.attach_alternative(message.html_body, "text/html")
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            permanent = any(500 <= code < 600 for code in codes)
            raise TransportError(
                f"SMTP refused the recipient: {exc.recipients}",
                permanent=permanent,
                code=str(codes[0]) if codes else "",
                bad_contact=permanent,
            ) from exc
        except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, OSError) as exc:
            unanswered = isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(
                exc, smtplib.SMTPException
            )
            opened = backend.opened
            if unanswered and opened is not None and opened.body_written:
                # The whole message was written and the server's answer never came (a timeout,
                # a reset): SMTP has no way to ask, and the server has most likely queued it.
                # Final as sent, with a note; never sent again.
                logger.info("SMTP %s:%s: no answer after the message: %r", host, port, exc)
                return SendResult(
                    provider_message_id=message_id,
                    note=(
                        "Sent; the SMTP server did not confirm it (no answer after the whole "
                        "message was written)"
                    ),
                )
            # Disconnects, timeouts, refusals, a greeting that is not SMTP's: the same words for
            # all (the raw error would make the test send a port scanner); the log keeps it.
            logger.info("SMTP %s:%s unreachable: %r", host, port, exc)
            raise TransportError(
                _("Could not connect to the SMTP server."), permanent=False
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise TransportError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                permanent=500 <= exc.smtp_code < 600,
                code=str(exc.smtp_code),
            ) from exc
        except smtplib.SMTPException as exc:
            logger.info("SMTP %s:%s failed: %r", host, port, exc)
            raise TransportError(
                _("The SMTP server did not accept the message."), permanent=False
            ) from exc
        return SendResult(provider_message_id=message_id)
