"""E-mail through any SMTP server, with Django's SMTP backend.

Credentials: `host`, `port`, `username`, `password` and `security` ("starttls", "ssl" or
"none"). The message's reference goes in the `Message-ID` header, so a bounce can be matched
to it; the one-click unsubscribe headers are set."""

import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend

from messaging.providers.base import OutgoingMessage, Provider, SendResult, TransportError


class SMTPProvider(Provider):
    kind = "smtp"

    def send(self, message: OutgoingMessage) -> SendResult:
        creds = self.credentials
        host = creds.get("host")
        if not host:
            raise TransportError("SMTP host is not configured", permanent=True)
        security = creds.get("security", "starttls")
        try:
            port = int(creds.get("port") or (465 if security == "ssl" else 587))
        except (TypeError, ValueError):
            # Saved before ports were checked: say so instead of failing with a traceback.
            raise TransportError(
                f"SMTP port {creds.get('port')!r} is not a number", permanent=True
            ) from None
        backend = EmailBackend(
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
        except smtplib.SMTPResponseException as exc:
            raise TransportError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                permanent=500 <= exc.smtp_code < 600,
                code=str(exc.smtp_code),
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, refused
            raise TransportError(f"SMTP server unreachable: {exc}", permanent=False) from exc
        return SendResult(provider_message_id=message_id)
