"""``formwerk key ...``: the encryption keyring (see formwerk.crypto).

    formwerk key list     key ids, the current one first (never the keys)
    formwerk key rotate   the data directory's keyring: a new current key on top, old ones kept
    formwerk key new      print a fresh ``id:base64key`` for FORMWERK_ENCRYPTION_KEYS
"""

from __future__ import annotations

import sys

from formwerk.settings import Settings


def add_parser(sub):
    k = sub.add_parser("key", help="encryption keys: list, rotate, new")
    ksub = k.add_subparsers(dest="key_command", required=True)
    ksub.add_parser("list", help="key ids in the keyring, the current one first")
    ksub.add_parser("rotate", help="put a new current key on top of the data directory's keyring")
    ksub.add_parser("new", help="print a new key as id:base64key (for FORMWERK_ENCRYPTION_KEYS)")
    return k


async def key(settings: Settings, args) -> int:
    from formwerk.crypto import Keyring, KeyringError, format_spec, keyring_path, load_or_create, new_key, \
        write_keyring

    try:
        if args.key_command == "new":
            print(format_spec([new_key()]))
            return 0
        if args.key_command == "list":
            ring = Keyring.from_settings(settings)
            source = "FORMWERK_ENCRYPTION_KEYS" if settings.encryption_keys.strip() else str(keyring_path(settings))
            print(f"keys from {source}:")
            for i, kid in enumerate(ring.ids):
                print(f"  {kid}{'  (current: encrypts new data)' if i == 0 else ''}")
            return 0
        if args.key_command == "rotate":
            if settings.encryption_keys.strip():
                print("The keys come from FORMWERK_ENCRYPTION_KEYS: put a new key (`formwerk key new`) first "
                      "in that list, keep the old ones behind it, and restart workers and API.", file=sys.stderr)
                return 2
            path = keyring_path(settings)
            keys = load_or_create(path)
            fresh = new_key()
            write_keyring(path, [fresh, *keys])
            print(f"new current key {fresh.id}; {len(keys)} older key(s) kept for reading. "
                  "Restart the worker and the web app to use it.")
            return 0
    except KeyringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2
