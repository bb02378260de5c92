"""Key pairs (``os-keypairs``): a user's public keys by name, Nova's rules and texts.

A key pair belongs to a user, not a project. Creating one without a public key generates an
RSA 2048 key, as Nova does, and hands the private half back once. The
fingerprint is Nova's: MD5 of the SSH key blob (colon-separated hex), or SHA-1 of an x509
certificate's DER.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import IntegrityError, transaction

from compute.exceptions import ComputeError, Forbidden, Invalid, NotFound
from compute.models import KeyPair
from compute.services import quotas


class KeyPairExists(ComputeError):
    code = 409
    fault = "conflictingRequest"


def _colons(digest: str) -> str:
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def fingerprint(public_key: str, key_type: str) -> str:
    try:
        if key_type == "x509":
            cert = x509.load_pem_x509_certificate(public_key.encode())
            return _colons(hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest())
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1])
    except (ValueError, IndexError, TypeError):
        raise Invalid("Keypair data is invalid: failed to generate fingerprint") from None
    return _colons(hashlib.md5(blob, usedforsecurity=False).hexdigest())


def _generate() -> tuple[str, str]:
    """(private key in PEM, public key in OpenSSH form)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode() + " Generated-by-Nova"


def _generate_x509(user_id: str) -> tuple[str, str]:
    """(private key in PEM, a self-signed certificate in PEM), as Nova generates for x509."""
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id or "nova")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365 * 10))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


def keypair_create(
    *,
    user_id: str,
    project_id: str | None,
    name: str,
    key_type: str = "ssh",
    public_key: str | None = None,
) -> tuple[KeyPair, str | None]:
    """The new key pair and, when it was generated here, its private key."""
    if project_id is not None:
        count = KeyPair.objects.filter(user_id=user_id).count() + 1
        limit = quotas.project_limits(project_id)["key_pairs"]
        if 0 <= limit < count:
            raise Forbidden("Quota exceeded, too many key pairs.")
    private = None
    if public_key is None:
        private, public_key = _generate_x509(user_id) if key_type == "x509" else _generate()
    printed = fingerprint(public_key, key_type)
    try:
        with transaction.atomic():
            keypair = KeyPair.objects.create(
                user_id=user_id,
                name=name,
                type=key_type,
                public_key=public_key,
                fingerprint=printed,
            )
    except IntegrityError:
        raise KeyPairExists(f"Key pair '{name}' already exists.") from None
    return keypair, private


def keypair_get(*, user_id: str, name: str) -> KeyPair:
    found = KeyPair.objects.filter(user_id=user_id, name=name).first()
    if found is None:
        raise NotFound(f"Keypair {name} not found for user {user_id}")
    return found


def keypair_delete(*, user_id: str, name: str) -> None:
    keypair_get(user_id=user_id, name=name).delete()


def keypair_list(*, user_id: str) -> list[KeyPair]:
    return list(KeyPair.objects.filter(user_id=user_id).order_by("name"))
