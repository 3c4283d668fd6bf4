"""A TLS ClientHello read off the wire (RFC 8446 4.1.2, RFC 5246 7.4.1.2): what an inspecting middle box sees
of it. Shared by docker/upstream/inspectbox.py (in the container) and the host's tests: stdlib only."""
from __future__ import annotations

import struct

# IANA's TLS registries, the entries a Go client or a middle box's rule may name (unknown ones print as hex)
GROUPS = {0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1", 0x001d: "x25519", 0x001e: "x448",
          0x0200: "MLKEM512", 0x0201: "MLKEM768", 0x0202: "MLKEM1024", 0x11eb: "SecP256r1MLKEM768",
          0x11ec: "X25519MLKEM768", 0x11ed: "SecP384r1MLKEM1024", 0x6399: "X25519Kyber768Draft00"}
SIGALGS = {0x0201: "rsa_pkcs1_sha1", 0x0203: "ecdsa_sha1", 0x0401: "rsa_pkcs1_sha256", 0x0501: "rsa_pkcs1_sha384",
           0x0601: "rsa_pkcs1_sha512", 0x0403: "ecdsa_secp256r1_sha256", 0x0503: "ecdsa_secp384r1_sha384",
           0x0603: "ecdsa_secp521r1_sha512", 0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384",
           0x0806: "rsa_pss_rsae_sha512", 0x0807: "ed25519", 0x0808: "ed448", 0x0809: "rsa_pss_pss_sha256",
           0x080a: "rsa_pss_pss_sha384", 0x080b: "rsa_pss_pss_sha512", 0x0904: "mldsa44", 0x0905: "mldsa65",
           0x0906: "mldsa87"}
EXTENSIONS = {0: "server_name", 5: "status_request", 10: "supported_groups", 11: "ec_point_formats",
              13: "signature_algorithms", 16: "alpn", 18: "signed_certificate_timestamp", 23: "extended_master_secret",
              35: "session_ticket", 41: "pre_shared_key", 43: "supported_versions", 44: "cookie",
              45: "psk_key_exchange_modes", 50: "signature_algorithms_cert", 51: "key_share",
              65037: "encrypted_client_hello", 65281: "renegotiation_info"}
VERSIONS = {0x0301: "TLS1.0", 0x0302: "TLS1.1", 0x0303: "TLS1.2", 0x0304: "TLS1.3"}
RECORD_HEADER = 5


def _name(table: dict, value: int) -> str:
    if value & 0x0f0f == 0x0a0a and value >> 8 == value & 0xff:     # GREASE (RFC 8701)
        return "GREASE"
    return table.get(value, f"0x{value:04x}")


def _u16s(data: bytes) -> list[int]:
    return [v for (v,) in struct.iter_unpack(">H", data[:len(data) // 2 * 2])]


def handshake_bytes(stream: bytes) -> tuple[bytes, int] | None:
    """The first handshake message carried by the TLS records at the start of stream, and how many records it
    took (a ClientHello larger than a record's 16 KiB, or split by the client, spans several); None while it is
    incomplete. ValueError when stream is not TLS handshake records."""
    body, records, at = b"", 0, 0
    while True:
        if len(body) >= 4 and len(body) >= 4 + int.from_bytes(body[1:4], "big"):
            return body[:4 + int.from_bytes(body[1:4], "big")], records
        if len(stream) < at + RECORD_HEADER:
            return None
        kind, length = stream[at], int.from_bytes(stream[at + 3:at + 5], "big")
        if kind != 22:
            raise ValueError(f"not a TLS handshake record (content type {kind})")
        if len(stream) < at + RECORD_HEADER + length:
            return None
        body += stream[at + RECORD_HEADER:at + RECORD_HEADER + length]
        at, records = at + RECORD_HEADER + length, records + 1


def parse(message: bytes) -> dict:
    """What a ClientHello handshake message says: its size, versions, groups, key shares, signature algorithms
    and extensions, by IANA name, in the client's order."""
    if not message or message[0] != 1:
        raise ValueError("not a ClientHello")
    p = 4
    legacy_version = int.from_bytes(message[p:p + 2], "big")
    p += 2 + 32
    p += 1 + message[p]                                        # session id
    n = int.from_bytes(message[p:p + 2], "big")
    suites = _u16s(message[p + 2:p + 2 + n])
    p += 2 + n
    p += 1 + message[p]                                        # compression methods
    out = {"hello_bytes": len(message), "legacy_version": _name(VERSIONS, legacy_version),
           "cipher_suites": len(suites), "extensions": [], "groups": [], "key_shares": [], "sigalgs": [],
           "versions": []}
    end = p + 2 + int.from_bytes(message[p:p + 2], "big") if p + 2 <= len(message) else p
    p += 2
    while p + 4 <= end:
        kind, n = struct.unpack(">HH", message[p:p + 4])
        data = message[p + 4:p + 4 + n]
        p += 4 + n
        out["extensions"].append(_name(EXTENSIONS, kind))
        if kind == 10:
            out["groups"] = [_name(GROUPS, g) for g in _u16s(data[2:])]
        elif kind == 13:
            out["sigalgs"] = [_name(SIGALGS, s) for s in _u16s(data[2:])]
        elif kind == 43:
            out["versions"] = [_name(VERSIONS, v) for v in _u16s(data[1:])]
        elif kind == 51:
            q = 2
            while q + 4 <= len(data):
                group, klen = struct.unpack(">HH", data[q:q + 4])
                out["key_shares"].append(f"{_name(GROUPS, group)}:{klen}")
                q += 4 + klen
    return out
