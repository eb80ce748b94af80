"""Key pair material, as Nova's ``crypto`` module makes and checks it (with `cryptography`).

An ``ssh`` key pair is an RSA key: the public half in OpenSSH form
(``ssh-rsa AAAA... Generated-by-Nova``), the private half in PEM, and the
fingerprint the colon-separated MD5 of the public key's bytes. An ``x509`` key pair
(Windows WinRM) is a self-signed client certificate for ``CN=<user id>``, its
private half a PKCS#12 bundle in base64, and its fingerprint the certificate's
colon-separated SHA-1. An imported public key is parsed before it is kept: text
that is not a key of its type is `Invalid` (400), as in Nova. These are pure
functions; generating a key takes a while, so callers run it off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from nova_lite.exceptions import Invalid

__all__ = ["KEY_TYPES", "GeneratedKey", "fingerprint", "generate"]

KEY_TYPES = ("ssh", "x509")
RSA_BITS = 2048
UPN = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # Microsoft's user principal name


@attrs.frozen
class GeneratedKey:
    """A new key pair: both halves and the public half's fingerprint."""

    public_key: str
    private_key: str
    fingerprint: str


def _colons(digest: str) -> str:
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def fingerprint(public_key: str, key_type: str) -> str:
    """The fingerprint of `public_key`; `Invalid` unless it is a key of `key_type`."""
    if key_type == "x509":
        return _x509_fingerprint(public_key)
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1])
    except (ValueError, IndexError, binascii.Error, UnsupportedAlgorithm):
        raise Invalid(
            "Keypair data is invalid: failed to generate fingerprint (the public key must "
            "be one line of OpenSSH text, such as 'ssh-rsa AAAA... comment')."
        ) from None
    return _colons(hashlib.md5(blob, usedforsecurity=False).hexdigest())


def _x509_fingerprint(certificate: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except ValueError as exc:
        raise Invalid(
            f"Keypair data is invalid: failed to generate X509 fingerprint ({exc})."
        ) from None
    return _colons(cert.fingerprint(hashes.SHA1()).hex())


def generate(key_type: str, user_id: str) -> GeneratedKey:
    """A new key pair of `key_type` (``ssh`` or ``x509``) for `user_id`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if key_type == "x509":
        return _x509_pair(key, user_id)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    public_key = f"{public.decode()} Generated-by-Nova"
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return GeneratedKey(public_key, private.decode(), fingerprint(public_key, "ssh"))


def _x509_pair(key: rsa.RSAPrivateKey, user_id: str) -> GeneratedKey:
    """A self-signed client certificate for WinRM, as Nova's ``generate_winrm_x509_cert``."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.datetime.now(datetime.UTC)
    upn = x509.OtherName(UPN, _utf8_der(f"{user_id}@localhost"))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([upn]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate = cert.public_bytes(serialization.Encoding.PEM).decode()
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, cert, None, serialization.NoEncryption()
    )
    private_key = base64.b64encode(bundle).decode()
    return GeneratedKey(certificate, private_key, _x509_fingerprint(certificate))


def _utf8_der(text: str) -> bytes:
    """`text` as a DER UTF8String (what OpenSSL writes for ``UTF8:`` in an otherName)."""
    data = text.encode()
    if len(data) < 128:
        return bytes([0x0C, len(data)]) + data
    length = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + data
