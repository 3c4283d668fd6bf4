"""nghttpx, the HTTP/2 front (fixtures/world/middleware.py PROGRAMS, docker/nghttpx/): its access-log lines, its
TLS frontend's certificate of the run's CA, its URL and config, without Docker."""
import datetime
import json
import re
import subprocess
from types import SimpleNamespace

import pytest
from cryptography import x509

from fixtures.world.middleware import PROGRAMS, TLS_CERT, TLS_KEY, Middleware
from fixtures.world.tls import CA

PROGRAM = PROGRAMS["nghttpx"]


def line(**over) -> str:
    """An access-log line as the template's accesslog-format writes it."""
    e = {"t_end": "2026-12-07T00:50:21.254Z", "request_time": "0.043", "method": "GET",
         "path": "/example.com/lib/@v/v1.0.0.zip", "status": "200", "bytes": "424", "alpn": "h2",
         "protocol": "HTTP/2", "tls": "TLSv1.3", "backend": "proxy-a.corp.test:80", "accept": "-",
         "user_agent": "GoCommand/1 (+https://go.dev/cmd/go)", "cache_control": "-", **over}
    return json.dumps(e)


def test_a_line_is_a_request():
    r = PROGRAM.parse("mirror.corp.test", line())
    stamp = datetime.datetime(2026, 12, 7, 0, 50, 21, 254000, tzinfo=datetime.timezone.utc).timestamp()
    assert (r.server, r.method, r.path, r.status, r.fault) == ("mirror.corp.test", "GET",
                                                               "/example.com/lib/@v/v1.0.0.zip", 200, None)
    # nghttpx's stamp is that of the first line of its second: t and t_end both, so lines keep the file's order
    assert r.t == r.t_end == pytest.approx(stamp)
    assert r.detail == {"alpn": "h2", "protocol": "HTTP/2", "tls": "TLSv1.3", "backend": "proxy-a.corp.test:80",
                        "bytes": "424", "request_time": "0.043"}
    assert r.headers == {"User-Agent": "GoCommand/1 (+https://go.dev/cmd/go)"}      # "-": not sent


def test_lines_of_one_second_keep_the_files_order(monkeypatch):
    """Lines stamped alike sort in the file's order."""
    from fixtures.world import middleware
    text = "".join(line(path=p, request_time=t) + "\n" for p, t in (("/a", "0.001"), ("/b", "0.045"), ("/c", "0.002")))
    monkeypatch.setattr(middleware, "get_file", lambda container, path: text.encode())
    mw = Middleware(SimpleNamespace(session=SimpleNamespace(ca=CA.create())), "nghttpx", "m", None, "u", {})
    mw.future = SimpleNamespace(result=lambda: None)      # its container
    assert [r.path for r in mw.requests()] == ["/a", "/b", "/c"]


def test_a_partial_line_or_no_backend():
    with pytest.raises(ValueError):
        PROGRAM.parse("m", line()[:40])
    # a stream nghttpx answered itself (no backend): "-" fields are left out, an unknown status is None
    r = PROGRAM.parse("m", line(backend="-:-", status="-", alpn="-"))
    assert r.status is None and "backend" not in r.detail and "alpn" not in r.detail


def test_the_frontend_has_a_certificate_of_the_runs_ca_for_its_names():
    ca = CA.create()
    topo = SimpleNamespace(session=SimpleNamespace(ca=ca))
    mw = Middleware(topo, "nghttpx", "mirror.corp.test", None, "proxy-a.corp.test", {"grace": "1s"},
                    aliases=("edge.corp.test",))
    assert mw.url == "https://mirror.corp.test"
    files = mw.state_files()
    cert = x509.load_pem_x509_certificate(files[TLS_CERT].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == ["mirror.corp.test", "edge.corp.test"] and "PRIVATE KEY" in files[TLS_KEY]
    assert cert.issuer == x509.load_pem_x509_certificate(ca.cert_pem.encode()).subject
    assert "backend=proxy-a.corp.test,80;;proto=http/1.1" in mw.config
    assert "worker-process-grace-shutdown-period=1s" in mw.config and "frontend-max-requests" not in mw.config


def test_a_program_without_a_certificate_keeps_http():
    mw = Middleware(None, "nginx", "mirror.corp.test", None, "proxy.corp.test", {})
    assert mw.url == "http://mirror.corp.test" and not any(p.endswith((".crt", ".key")) for p in mw.state_files())


@pytest.mark.parametrize("values", [{}, {"grace": "1s", "max_requests": 10}])
def test_the_check_takes_the_rendered_config_and_refuses_a_line_that_is_no_option(tmp_path, values):
    """The check (nghttpx has no checker of its own) passes our config and names a line that is not option=value."""
    config = tmp_path / "nghttpx.conf"
    config.write_text(PROGRAM.render("plain", {"host": "m", "upstream": "u", **values}))
    check = PROGRAM.check.replace("{config}", str(config))
    assert subprocess.run(["sh", "-c", check], capture_output=True).returncode == 0
    config.write_text(config.read_text() + "frontend *,443\n")
    bad = subprocess.run(["sh", "-c", check], capture_output=True, text=True)
    assert bad.returncode != 0 and re.search(r"^\d+:frontend \*,443$", bad.stdout, re.M)
