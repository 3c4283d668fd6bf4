#!/usr/bin/env python3
"""Go's VCS test server (cmd/go/internal/vcweb), the serving part for what is not git: a CGI behind nginx
answering every vcweb path whose script's handler is not git (git's go straight to git http-backend, nginx
locations written by entrypoint.py). It reads the index vcweb.py wrote (/srv/vcweb/index.json) and serves as
vcweb's handlers do (Go's net/http behaviour where it shows: http.Error's body and headers, http.FileServer's
index.html, 404 text and directory redirects):

  dir       the script's directory (dir.go: http.FileServer)
  auth      the same, only with the Basic credentials of the nearest .access file above the path; otherwise its
            StatusCode (401 with WWW-Authenticate) and Message (auth.go)
  insecure  302 to the same host and path over plain http (insecure.go)
  status N  every answer of the handler carries status N (script.go statusCodeHandler)

A path no script serves is 404 (vcweb.go: the script is found by following the directories of the script tree,
then <first missing component>.txt); a script that failed answers as vcweb does: 501 for a VCS not installed
here (hg, svn, fossil, bzr), else 500, with the error.
"""
import base64
import html
import json
import mimetypes
import os
import posixpath
import sys
import urllib.parse

ROOT = os.environ.get("VCWEB_ROOT", "/srv/vcweb")
REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 501: "Not Implemented"}
# Go's mime table (mime/type.go builtinTypesLower) for what the scripts serve; anything else is sniffed.
MIME = {".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8", ".json": "application/json",
        ".zip": "application/zip", ".txt": "text/plain; charset=utf-8", ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8", ".xml": "text/xml; charset=utf-8"}


class Response:
    def __init__(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.status, self.body, self.headers = status, body, dict(headers or {})

    def write(self, out, forced: int | None = None) -> None:
        status = forced or self.status
        head = [f"Status: {status} {REASONS.get(status, '')}".rstrip()]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        out.write(("\r\n".join(head) + "\r\n\r\n").encode() + self.body)
        out.flush()


def http_error(message: str, code: int, headers: dict | None = None) -> Response:
    """net/http.Error: the message and a newline, as plain text that must not be sniffed."""
    return Response(code, (message + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8",
                                                    "X-Content-Type-Options": "nosniff", **(headers or {})})


def not_found() -> Response:
    return http_error("404 page not found", 404)


def sniff(data: bytes) -> str:
    """net/http.DetectContentType for the few kinds served here: HTML, zip, text, else binary."""
    head = data[:512].lstrip(b"\t\n\x0c\r ")
    if head[:15].lower().startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<title", b"<body")):
        return "text/html; charset=utf-8"
    if data.startswith(b"PK\x03\x04"):
        return "application/zip"
    if not any(b < 0x20 and b not in b"\t\n\x0c\r\x1b" for b in data[:512]):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def redirect(location: str, query: str, code: int = 301) -> Response:
    if query:
        location += "?" + query
    return Response(code, b"", {"Location": location})


def file_server(root: str, url_path: str, query: str) -> Response:
    """http.FileServer(http.Dir(root)) for url_path (the path with the script's prefix stripped)."""
    if not url_path.startswith("/"):
        url_path = "/" + url_path
    if url_path.endswith("/index.html"):
        return redirect("./", query)
    name = posixpath.normpath(url_path) if url_path != "/" else "/"
    local = os.path.join(root, name.lstrip("/"))
    if not os.path.exists(local):
        return not_found()
    if os.path.isdir(local):
        if not url_path.endswith("/"):
            return redirect(posixpath.basename(url_path) + "/", query)
        index = os.path.join(local, "index.html")
        if os.path.isfile(index):
            local = index
        else:
            entries = sorted(e + ("/" if os.path.isdir(os.path.join(local, e)) else "") for e in os.listdir(local))
            body = '<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n'
            body += "".join(f'<a href="{urllib.parse.quote(e)}">{html.escape(e)}</a>\n' for e in entries) + "</pre>\n"
            return Response(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"})
    elif url_path.endswith("/"):
        return redirect("../" + posixpath.basename(name), query)
    with open(local, "rb") as f:
        data = f.read()
    ctype = MIME.get(os.path.splitext(local)[1].lower()) or sniff(data)
    return Response(200, data, {"Content-Type": ctype, "Content-Length": str(len(data))})


def basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def auth_server(root: str, url_path: str, query: str, authorization: str) -> Response:
    """auth.go: serve as file_server, but only with the credentials of the nearest .access file."""
    if url_path and posixpath.basename(url_path).startswith("."):
        return http_error("filename contains leading dot", 400)
    name = posixpath.normpath("/" + url_path)
    local = os.path.join(root, name.lstrip("/"))
    if not os.path.exists(local):
        return not_found()
    access_dir = url_path if os.path.isdir(local) else posixpath.dirname(url_path)
    while True:
        access = os.path.join(root, posixpath.normpath("/" + posixpath.join(access_dir, ".access")).lstrip("/"))
        if os.path.isfile(access):
            break
        if access_dir in (".", "/", ""):
            return http_error("failed to locate access file", 500)
        access_dir = posixpath.dirname(access_dir)
    try:
        with open(access) as f:
            token = json.load(f)
    except ValueError:
        return http_error("malformed access file", 500)
    given = basic_auth(authorization)
    if given is None or given != (token.get("Username", ""), token.get("Password", "")):
        code = token.get("StatusCode") or 401
        headers = {"Www-Authenticate": f"basic realm={access_dir}"} if code == 401 else {}
        return http_error(token.get("Message", ""), code, headers)
    return file_server(root, url_path, query)


def find_script(index: dict, clean: str) -> str:
    """vcweb.go ServeHTTP: follow the script tree's directories, the first missing component names the script."""
    dirs, script = set(index["dirs"]), ""
    for part in clean.split("/"):
        script = posixpath.join(script, part) if script else part
        if script not in dirs:
            break
    return script


def serve(env: dict) -> tuple[Response, int | None]:
    """The answer to one request (CGI environment), and the status a `status` line forces (None: none)."""
    with open(os.path.join(ROOT, "index.json")) as f:
        index = json.load(f)
    url_path = env.get("PATH_INFO", "/") or "/"
    query = env.get("QUERY_STRING", "")
    clean = posixpath.normpath(url_path).lstrip("/")
    if clean in ("", "."):
        names = "\n".join(sorted(index["scripts"]))
        return Response(200, f"<html>\n<title>vcweb</title>\n<pre>\n<b>vcweb</b>\n\n{names}\n</pre>\n".encode(),
                        {"Content-Type": "text/html; charset=utf-8"}), None
    name = find_script(index, clean)
    script = index["scripts"].get(name)
    if script is None:
        return not_found(), None
    if "error" in script:
        return http_error(script["error"], script["code"]), None
    prefix = "/" + name
    rest = url_path[len(prefix):] if url_path.startswith(prefix) else url_path      # http.StripPrefix
    root = os.path.normpath(os.path.join(ROOT, name, script["dir"]))
    handler = script["handler"]
    if handler == "dir":
        answer = file_server(root, rest, query)
    elif handler == "auth":
        answer = auth_server(root, rest, query, env.get("HTTP_AUTHORIZATION", ""))
    elif handler == "insecure":
        host = env.get("HTTP_HOST", "")
        if not host:
            answer = http_error("no Host provided in request", 400)
        else:
            location = "http://" + host + urllib.parse.quote(rest or "")
            answer = redirect(location, query, 302)
            answer.body = f'<a href="{html.escape(answer.headers["Location"])}">Found</a>.\n\n'.encode()
            answer.headers["Content-Type"] = "text/html; charset=utf-8"
    else:       # git: nginx sends those to git http-backend; here only when its location is missing
        answer = http_error(f"handler {handler!r} is not served by this CGI", 500)
    return answer, script.get("status")


def main():
    answer, forced = serve(dict(os.environ))
    answer.write(sys.stdout.buffer, forced)


if __name__ == "__main__":
    main()
