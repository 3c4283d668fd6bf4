"""The run's CA issuing legacy certificates (RSA keys, SHA-1 signatures), nginx's tls variant and the inspect
box's declaration, without Docker."""
import types

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fixtures.world.inspectbox import InspectBox
from fixtures.world.middleware import PROGRAMS, TLS_CERT, TLS_KEY, Middleware
from fixtures.world.tls import CA


@pytest.fixture(scope="module")
def ca():
    return CA.create("test CA")


@pytest.mark.parametrize("key,digest", [("ec", "sha256"), ("rsa", "sha256"), ("ec", "sha1"), ("rsa", "sha1")])
def test_issue_keys_and_digests(ca, key, digest):
    pem, _ = ca.issue("a.test", "b.test", key=key, digest=digest)
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert isinstance(cert.public_key(), rsa.RSAPublicKey if key == "rsa" else ec.EllipticCurvePublicKey)
    assert cert.signature_hash_algorithm.name == digest
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["a.test", "b.test"]
    # the CA's signature holds, SHA-1 too (the TBSCertificate was signed as rewritten)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))


def test_issue_refuses_unknown_kinds(ca):
    with pytest.raises(ValueError, match="key='dsa'"):
        ca.issue("a.test", key="dsa")
    with pytest.raises(ValueError, match="digest='md5'"):
        ca.issue("a.test", digest="md5")


def test_nginx_tls_variant_renders_what_it_is_given():
    text = PROGRAMS["nginx"].render("tls", {"host": "tls.corp.test", "upstream": "proxy.corp.test",
                                            "protocols": "TLSv1 TLSv1.1", "ciphers": "DEFAULT:@SECLEVEL=0",
                                            "sigalgs": "RSA+SHA1", "names": ["box.corp.test"], "cert": "rsa-sha1"})
    assert "listen 443 ssl;" in text and "ssl_protocols TLSv1 TLSv1.1;" in text
    assert 'ssl_ciphers "DEFAULT:@SECLEVEL=0";' in text and 'SignatureAlgorithms "RSA+SHA1";' in text
    assert "server_name box.corp.test;" in text and f"ssl_certificate {TLS_CERT};" in text
    plain = PROGRAMS["nginx"].render("tls", {"host": "tls.corp.test", "upstream": "proxy.corp.test"})
    assert "SignatureAlgorithms" not in plain and "ssl_protocols TLSv1.2 TLSv1.3;" in plain


def test_a_tls_variant_gets_a_certificate_of_the_run_ca(ca):
    topo = types.SimpleNamespace(session=types.SimpleNamespace(ca=ca))
    mw = Middleware(topo, "nginx", "tls.corp.test", "tls", "proxy.corp.test", {"cert": "rsa-sha1",
                                                                               "names": ["box.corp.test"]})
    files = mw.state_files()
    cert = x509.load_pem_x509_certificate(files[TLS_CERT].encode())
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.signature_hash_algorithm.name == "sha1"
    assert "PRIVATE KEY" in files[TLS_KEY]
    assert TLS_CERT not in Middleware(topo, "nginx", "m.corp.test", "plain", "proxy.corp.test", {}).state_files()


def test_inspect_box_declaration():
    topo = types.SimpleNamespace()
    box = InspectBox(topo, "box.corp.test", "tls.corp.test:443", reset_over=1200)
    assert box.pooled and box.policy == {"reset_over": 1200}
    assert not InspectBox(topo, "mtu.corp.test", "tls.corp.test:443", drop_longer_than=1280).pooled
    with pytest.raises(ValueError, match="no policy reset_size"):
        InspectBox(topo, "box.corp.test", "tls.corp.test:443", reset_size=1200)
    with pytest.raises(ValueError, match="not host:port"):
        InspectBox(topo, "box.corp.test", "tls.corp.test")


def test_the_run_id_in_the_run_cas_name_is_no_change():
    """go names the run's CA in a certificate error ("candidate authority certificate \\"gotraps run <id>\\""): two
    runs say the same thing."""
    from fixtures.record.results import new_run_id
    from fixtures.record.rundiff import normalize
    said = 'while trying to verify candidate authority certificate "gotraps run {}")'
    assert normalize(said.format(new_run_id())) == normalize(said.format(new_run_id())) == said.format("<run>")
