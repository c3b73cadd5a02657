"""Form bodies of simulator requests: ``application/x-www-form-urlencoded`` and ``multipart/form-data``."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

from mapsync.connectors.simkit.routing import Request


def parse_form(request: Request) -> dict[str, str]:
    """Field name -> first value; an empty dict when the body is not a form."""
    content_type = request.header("Content-Type") or ""
    lowered = content_type.lower()
    if lowered.startswith("application/x-www-form-urlencoded"):
        text = request.body.decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items() if v}
    if lowered.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=HTTP).parsebytes(head + request.body)
        fields: dict[str, str] = {}
        if not message.is_multipart():
            return fields
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str) or name in fields:
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                fields[name] = payload.decode(part.get_content_charset() or "utf-8", "replace")
        return fields
    return {}
