"""Temporal payload encryption: what the Temporal server stores is ciphertext.

``EncryptionCodec`` encrypts every payload (workflow and activity inputs and
results, update arguments, memo, heartbeat details, failure details) with
the keyring's current key; the key id travels in the payload's metadata so
that a rotated ring still decrypts old histories. Payloads written before
encryption was switched on (no ``binary/encrypted`` encoding) pass through
unchanged, so running cases keep working.

``data_converter(settings)`` is the converter of every Formwerk client and
worker (``worker.connect``): pydantic models, this codec, and a failure
converter that moves failure messages and stack traces into an (encrypted)
payload too, since an exception message can quote what it failed on.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from formwerk.crypto import Keyring

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            key_id, data = self.keyring.encrypt(p.SerializeToString(), aad=ENCODING)
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode("ascii")}, data=data))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)  # written before encryption: plain
                continue
            key_id = p.metadata.get(KEY_ID, b"").decode("ascii", "replace")
            out.append(Payload.FromString(self.keyring.decrypt(key_id, p.data, aad=ENCODING)))
        return out


def converter_for(keyring: Keyring) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter(settings) -> DataConverter:
    """The data converter of every Formwerk client and worker (keys from the settings)."""
    return converter_for(Keyring.from_settings(settings))
