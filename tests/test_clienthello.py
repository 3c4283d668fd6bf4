"""The inspecting box's ClientHello parser and its policy (docker/upstream/upstreamlib/clienthello.py,
docker/upstream/inspectbox.py), on a real ClientHello made by Python's ssl module: no Docker."""
import importlib.util
import ssl

import pytest

from upstreamlib import clienthello
from fixtures.runtime.images import DOCKER_DIR


def a_client_hello(**ctx_options) -> bytes:
    """The bytes an OpenSSL client sends first (its ClientHello records), for server name example.test."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_alpn_protocols(["http/1.1"])
    for k, v in ctx_options.items():
        setattr(ctx, k, v)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname="example.test")
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return outgoing.read()


def inspectbox():
    spec = importlib.util.spec_from_file_location("inspectbox", DOCKER_DIR / "upstream" / "inspectbox.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parses_a_real_client_hello():
    wire = a_client_hello()
    message, records = clienthello.handshake_bytes(wire)
    hello = clienthello.parse(message)
    assert records == 1 and len(message) + 5 == len(wire)
    assert hello["hello_bytes"] == len(message)
    assert {"server_name", "supported_groups", "signature_algorithms", "key_share", "alpn"} <= set(hello["extensions"])
    assert "x25519" in hello["groups"] and any(k.startswith("x25519:32") for k in hello["key_shares"])
    assert "TLS1.3" in hello["versions"] and "ecdsa_secp256r1_sha256" in hello["sigalgs"]


def test_incomplete_and_split_hellos():
    wire = a_client_hello()
    assert clienthello.handshake_bytes(wire[:3]) is None
    assert clienthello.handshake_bytes(wire[:-1]) is None
    # the same message split over two records, as a client may send a large one
    message, _ = clienthello.handshake_bytes(wire)
    half = len(message) // 2
    split = b"".join(b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part for part in (message[:half], message[half:]))
    assert clienthello.handshake_bytes(split) == (message, 2)
    with pytest.raises(ValueError):
        clienthello.handshake_bytes(b"GET / HTTP/1.1\r\n\r\n")


def test_names_grease_and_unknown_values():
    assert clienthello._name(clienthello.GROUPS, 0x11ec) == "X25519MLKEM768"
    assert clienthello._name(clienthello.GROUPS, 0x2a2a) == "GREASE"
    assert clienthello._name(clienthello.GROUPS, 0x1234) == "0x1234"


def test_policy_decides_by_size_group_sigalg():
    box = inspectbox()
    hello = {"wire_bytes": 1500, "groups": ["X25519MLKEM768", "x25519"], "key_shares": ["X25519MLKEM768:1216"],
             "sigalgs": ["mldsa44", "ed25519"], "extensions": ["key_share"]}
    assert box.decide(hello, {}) == ("forward", "")
    assert box.decide(hello, {"reset_over": 1200}) == ("reset", "ClientHello of 1500 bytes > 1200")
    assert box.decide(hello, {"reset_over": 1500}) == ("forward", "")
    assert box.decide(hello, {"reset_groups": ["X25519MLKEM768"]}) == ("reset", "groups X25519MLKEM768")
    assert box.decide(hello, {"reset_sigalgs": ["mldsa44", "mldsa65"]}) == ("reset", "sigalgs mldsa44")
    assert box.decide(hello, {"reset_extensions": ["encrypted_client_hello"]})[0] == "forward"
