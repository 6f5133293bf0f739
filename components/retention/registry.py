"""Client for the registry HTTP API v2: listing, manifests, config blobs, deletion.

Authentication is Basic (sent up front when credentials are given, saving a round trip per
request) or the Bearer-token challenge flow: on a 401 carrying
`WWW-Authenticate: Bearer realm=...,service=...,scope=...` a token is fetched from the
realm for exactly the challenged scope and reused for later requests of the same kind.

Anything the engine could misread -- a non-JSON body, an unknown content type, a missing or
wrong `Docker-Content-Digest` -- raises `UnexpectedResponse`, so it can never turn into a
deletion.

Credentials stay with the registry, as in Docker and containerd: Basic credentials and
tokens go only to the registry's own origin (scheme, host, port), a `Link` to another
origin is refused, tokens are cached per origin and scope, and a token realm gets the
password only over https or on the registry's own origin.  Pagination is capped, so a
registry answering new `Link` URLs forever cannot hold the job.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .http import DEFAULT_LIMIT, HttpClient, HttpError, MiB, Response, origin

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join(sorted(INDEX_TYPES | MANIFEST_TYPES))
# Distribution 2.8 ignores `n` on tag lists and answers every tag at once.
LIST_LIMIT = 16 * MiB
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


Origin = tuple[str, str, int | None]


class RegistryError(HttpError):
    """The registry answered, but not with what the operation needs."""


class AuthError(RegistryError):
    """Credentials are missing or rejected."""


class UnexpectedResponse(RegistryError):
    """An answer the engine does not understand; the repository must not be touched."""


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    document: dict[str, Any]
    pushed: datetime | None = None
    raw: bytes = field(default=b"", repr=False, compare=False)
    """The bytes as stored: the only form that keeps the digest when put under another tag."""

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class Challenge:
    scheme: str
    params: dict[str, str]


_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')


def parse_challenge(header: str) -> Challenge:
    """Parse one `WWW-Authenticate` challenge; quoted values may contain commas (scopes do)."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        key.lower(): (quoted if quoted else bare).replace('\\"', '"')
        for key, quoted, bare in _CHALLENGE_PARAM.findall(rest)
    }
    return Challenge(scheme.lower(), params)


def next_link(header: str | None) -> str | None:
    """The target of a `Link: <url>; rel="next"` pagination header, if any."""
    for part in (header or "").split(","):
        match = re.match(r'\s*<([^>]*)>\s*;.*\brel="?next"?', part)
        if match:
            return match.group(1)
    return None


class Registry:
    def __init__(
        self,
        url: str,
        http: HttpClient,
        *,
        username: str | None = None,
        password: str | None = None,
        page_size: int = 100,
        max_pages: int = 10_000,
    ) -> None:
        self.url = url.rstrip("/")
        self.origin = origin(self.url)
        self.http = http
        self.page_size = page_size
        self.max_pages = max_pages
        self._credentials = (username, password or "") if username else None
        # The scope a registry challenged for each (origin, resource, method), and the token
        # granted per (origin, scope): a token never travels to another origin.
        self._scopes: dict[tuple[Origin, str, str], str] = {}
        self._tokens: dict[tuple[Origin, str], str] = {}
        self._token_lock = threading.Lock()
        # Once the registry asks for Bearer tokens, Basic headers to it are pointless.
        self._uses_tokens = False

    # --- listing -------------------------------------------------------------------

    def repositories(self) -> Iterator[str]:
        yield from self._paginate("/v2/_catalog", "repositories", kind="catalog")

    def tags(self, repository: str) -> list[str]:
        try:
            return list(self._paginate(f"/v2/{repository}/tags/list", "tags", kind="tags"))
        except _NotFound:
            # The catalog still lists a repository whose every tag was deleted.
            return []

    def _paginate(self, path: str, key: str, *, kind: str) -> Iterator[str]:
        url: str | None = f"{self.url}{path}?n={self.page_size}"
        seen: set[str] = set()
        names: set[str] = set()
        while url is not None:
            if url in seen:
                raise UnexpectedResponse(f"pagination loops back to {url}")
            if len(seen) == self.max_pages:
                raise UnexpectedResponse(f"{path}: more than {self.max_pages} pages")
            seen.add(url)
            response = self._get(url, kind=kind, limit=LIST_LIMIT)
            if response.status == 404:
                raise _NotFound(url)
            document = self._json_object(response, url)
            items = document.get(key) or []
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise UnexpectedResponse(f"{url}: '{key}' is not a list of names")
            new = [i for i in dict.fromkeys(items) if i not in names]
            names.update(new)
            yield from new
            link = next_link(response.headers.get("Link"))
            url = urllib.parse.urljoin(url, link) if link else None
            if url is not None and not new:
                raise UnexpectedResponse(f"{path}: a page with no new names links to {url}")
            if url is not None and origin(url) != self.origin:
                raise UnexpectedResponse(f"{path}: refusing a next page on another origin: {url}")

    # --- manifests and blobs -------------------------------------------------------

    def manifest(self, repository: str, reference: str) -> Manifest:
        url = f"{self.url}/v2/{repository}/manifests/{reference}"
        response = self._get(url, kind="manifest", accept=ACCEPT)
        if response.status != 200:
            raise UnexpectedResponse(f"{url}: HTTP {response.status} {_excerpt(response)}")
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        if media_type not in INDEX_TYPES | MANIFEST_TYPES:
            raise UnexpectedResponse(f"{url}: unsupported content type {media_type!r}")
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:
            raise UnexpectedResponse(f"{url}: no Docker-Content-Digest header")
        # The digest is what gets deleted, so it must be the digest of what we read.
        if digest != "sha256:" + hashlib.sha256(response.body).hexdigest():
            raise UnexpectedResponse(f"{url}: Docker-Content-Digest {digest} does not match body")
        if reference.startswith("sha256:") and reference != digest:
            raise UnexpectedResponse(f"{url}: asked for {reference}, got {digest}")
        pushed = _http_date(response.headers.get("Last-Modified"))
        document = self._json_object(response, url)
        return Manifest(digest, media_type, document, pushed, raw=response.body)

    def find_manifest(self, repository: str, digest: str) -> Manifest | None:
        """The manifest, or None when this registry does not hold it (404)."""
        try:
            return self.manifest(repository, digest)
        except UnexpectedResponse:
            if self.head_digest(repository, digest) is None:
                return None
            raise

    def put_manifest(self, repository: str, tag: str, manifest: Manifest) -> None:
        """Tag an existing manifest: its exact bytes under `tag`, checked to keep its digest."""
        url = f"{self.url}/v2/{repository}/manifests/{tag}"
        headers = {"Content-Type": manifest.media_type}
        response = self._authorized("PUT", url, kind="tag", headers=headers, body=manifest.raw)
        stored = response.headers.get("Docker-Content-Digest")
        if response.status != 201 or stored != manifest.digest:
            raise RegistryError(
                f"PUT {url}: HTTP {response.status}, digest {stored!r} "
                f"(expected {manifest.digest}) {_excerpt(response)}"
            )

    def delete_tag(self, repository: str, tag: str) -> bool:
        """Remove a tag, not the manifest it points to (Distribution 3.x); False when gone."""
        return self._delete(repository, tag, kind="untag")

    def head_digest(self, repository: str, tag: str) -> str | None:
        """The digest a tag points to now; None when the tag is gone."""
        url = f"{self.url}/v2/{repository}/manifests/{tag}"
        response = self._authorized("HEAD", url, kind="head", headers={"Accept": ACCEPT})
        if response.status == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest") or ""
        if response.status != 200 or not _DIGEST.fullmatch(digest):
            raise UnexpectedResponse(f"HEAD {url}: HTTP {response.status}, digest {digest!r}")
        return digest

    def blob_json(self, repository: str, digest: str, *, limit: int) -> dict[str, Any]:
        url = f"{self.url}/v2/{repository}/blobs/{digest}"
        return self._json_object(self._get(url, kind="blob", limit=limit), url)

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete by digest; False when it was already gone, which is just as good."""
        return self._delete(repository, digest, kind="delete")

    def _delete(self, repository: str, reference: str, *, kind: str) -> bool:
        url = f"{self.url}/v2/{repository}/manifests/{reference}"
        response = self._authorized("DELETE", url, kind=kind, headers={})
        if response.status in (200, 202):
            return True
        if response.status == 404:
            return False
        raise RegistryError(f"DELETE {url}: HTTP {response.status} {_excerpt(response)}")

    # --- plumbing ------------------------------------------------------------------

    def _get(
        self, url: str, *, kind: str, accept: str = "application/json", limit: int = DEFAULT_LIMIT
    ) -> Response:
        return self._authorized("GET", url, kind=kind, headers={"Accept": accept}, limit=limit)

    def _json_object(self, response: Response, url: str) -> dict[str, Any]:
        if response.status != 200:
            raise UnexpectedResponse(f"{url}: HTTP {response.status} {_excerpt(response)}")
        try:
            document = response.json()
        except HttpError as err:
            raise UnexpectedResponse(f"{url}: {err}") from err
        if not isinstance(document, dict):
            raise UnexpectedResponse(f"{url}: JSON is not an object")
        return document

    def _authorized(
        self,
        method: str,
        url: str,
        *,
        kind: str,
        headers: dict[str, str],
        limit: int = DEFAULT_LIMIT,
        body: bytes | None = None,
    ) -> Response:
        target = origin(url)
        if target != self.origin:
            raise UnexpectedResponse(f"{method} {url}: not on the registry's origin")
        resource = (target, _resource(url), method)
        scope = self._scopes.get(resource)
        token = self._tokens.get((target, scope)) if scope is not None else None
        response = self.http.send(
            method, url, kind=kind, headers=self._auth(headers, token), limit=limit, body=body
        )
        if response.status != 401:
            return response
        challenge = parse_challenge(response.headers.get("WWW-Authenticate") or "")
        if challenge.scheme != "bearer":
            if self._credentials is None:
                raise AuthError(f"{method} {url}: registry requires credentials")
            raise AuthError(f"{method} {url}: registry rejected the credentials (HTTP 401)")
        scope = challenge.params.get("scope", "")
        self._scopes[resource] = scope
        token = self._token((target, scope), token, challenge)
        response = self.http.send(
            method, url, kind=kind, headers=self._auth(headers, token), limit=limit, body=body
        )
        if response.status == 401:
            raise AuthError(f"{method} {url}: token for {challenge.params.get('scope')} refused")
        return response

    def _auth(self, headers: dict[str, str], token: str | None) -> dict[str, str]:
        if token is not None:
            return {**headers, "Authorization": f"Bearer {token}"}
        if self._credentials is not None and not self._uses_tokens:
            return {**headers, "Authorization": _basic(*self._credentials)}
        return headers

    def _token(self, key: tuple[Origin, str], rejected: str | None, challenge: Challenge) -> str:
        with self._token_lock:
            self._uses_tokens = True
            current = self._tokens.get(key)
            if current is not None and current != rejected:
                return current  # another worker refreshed it while we waited
            realm = challenge.params.get("realm") or ""
            where = origin(realm)
            if where[0] not in ("http", "https") or not where[1]:
                raise AuthError(f"Bearer challenge with an unusable realm {realm!r}")
            query = {k: v for k, v in challenge.params.items() if k in ("service", "scope")}
            separator = "&" if "?" in realm else "?"
            url = f"{realm}{separator}{urllib.parse.urlencode(query)}" if query else realm
            headers = {}
            if self._credentials is not None:
                # The password travels only encrypted, or to the registry itself.
                if where[0] != "https" and where != self.origin:
                    raise AuthError(
                        f"token realm {realm} is neither https nor the registry itself: "
                        "refusing to send it the credentials"
                    )
                headers["Authorization"] = _basic(*self._credentials)
            response = self.http.send("GET", url, kind="token", headers=headers)
            if response.status in (401, 403):
                raise AuthError(
                    f"token server {realm} rejected the credentials (HTTP {response.status})"
                )
            document = self._json_object(response, realm)
            token = document.get("token") or document.get("access_token")
            if not isinstance(token, str) or not token:
                raise AuthError(f"token server {realm} returned no token")
            self._tokens[key] = token
            return token


class _NotFound(RegistryError):
    pass


def _resource(url: str) -> str:
    """The repository (or the catalog) a request is about: what a token's scope covers."""
    path = urllib.parse.urlsplit(url).path
    return path if path.endswith("/_catalog") else path.rsplit("/", 2)[0]


def _http_date(value: str | None) -> datetime | None:
    """A `Last-Modified` time: when the registry stored the manifest, i.e. its push time."""
    try:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _excerpt(response: Response) -> str:
    return response.body[:200].decode("utf-8", "replace").strip()
