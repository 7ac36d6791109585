"""Certificate helpers that breakers and graders share (below both layers)."""

from __future__ import annotations

from typing import Any


def names_key(cert: str) -> str:
    """The session-state key under which a certificate's names are kept."""
    return f"cert-names:{cert}"


def cert_names(cert: Any) -> list[str]:
    """A certificate's subject alternative names as DNS:name and IP:address strings."""
    from cryptography import x509

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = [f"DNS:{n}" for n in sans.get_values_for_type(x509.DNSName)]
    return dns + [f"IP:{a}" for a in sans.get_values_for_type(x509.IPAddress)]
