"""Reading uploaded PEM certificates and keys, and making self-signed ones for managed certificates.

Validation is loose, as a simulator's may be: the certificate must be an X.509 certificate in PEM,
the key a PEM private key that belongs to it. Chains, expiry and key sizes are not judged. Nothing
here ever repeats a key or a certificate in an error message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hcloud_sim.errors import invalid_field


@dataclass(frozen=True)
class Parsed:
    domain_names: list[str]
    fingerprint: str
    not_valid_before: float
    not_valid_after: float


def _fingerprint(cert: x509.Certificate) -> str:
    return ":".join(f"{b:02x}" for b in cert.fingerprint(hashes.SHA256()))


def _domains(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    if not names:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return names


def parse(certificate: str, private_key: str) -> Parsed:
    """The certificate's facts, or 422 invalid_input naming the field that is wrong."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except ValueError:
        raise invalid_field("certificate", "is not a PEM encoded X.509 certificate") from None
    try:
        key = serialization.load_pem_private_key(private_key.encode(), password=None)
    except (ValueError, TypeError):
        raise invalid_field("private_key", "is not an unencrypted PEM private key") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != cert.public_key().public_bytes(der, public):
        raise invalid_field("private_key", "does not belong to the certificate")
    return Parsed(
        domain_names=_domains(cert),
        fingerprint=_fingerprint(cert),
        not_valid_before=cert.not_valid_before_utc.timestamp(),
        not_valid_after=cert.not_valid_after_utc.timestamp(),
    )


def self_signed(domains: list[str], start: float, days: int = 90) -> tuple[str, str]:
    """(certificate PEM, private key PEM) for ``domains``, valid from ``start`` for ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])])
    begin = dt.datetime.fromtimestamp(int(start), dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(begin)
        .not_valid_after(begin + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()
