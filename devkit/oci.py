"""OCI layouts of the kinds people push: multi-arch indexes, buildx attestations, cosign
signatures, artifacts with a `subject`. skopeo pushes them from the layout (`oci:DIR:NAME`).

Layers are seeded random bytes, so gzip does not shrink them and the bytes GC reclaims can be
measured on disk; the same seed gives the same blob, which is how images share blobs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.registry import write_blob

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
COSIGN_PAYLOAD = "application/vnd.dev.cosign.simplesigning.v1+json"

Descriptor = dict[str, Any]


def digest_of(descriptor: Descriptor) -> str:
    return str(descriptor["digest"])


@dataclass
class Layout:
    """One OCI image layout directory; every method writes blobs and returns descriptors."""

    directory: Path

    def blob(self, data: bytes, media_type: str) -> Descriptor:
        return {"mediaType": media_type, **write_blob(self.directory, data)}

    def json_blob(self, document: dict[str, Any], media_type: str) -> Descriptor:
        return self.blob(json.dumps(document, sort_keys=True).encode(), media_type)

    def layer(self, seed: str, size: int) -> tuple[Descriptor, str]:
        """A gzip'd tar of `size` random bytes from `seed`; returns it and its diff_id."""
        content = random.Random(seed).randbytes(size)
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as archive:
            info = tarfile.TarInfo(f"{seed}.bin")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        diff_id = "sha256:" + hashlib.sha256(tar.getvalue()).hexdigest()
        return self.blob(gzip.compress(tar.getvalue(), mtime=0), OCI_LAYER), diff_id

    def manifest(
        self,
        config: Descriptor,
        layers: list[Descriptor],
        subject: Descriptor | None = None,
        artifact_type: str | None = None,
        annotations: dict[str, str] | None = None,
    ) -> Descriptor:
        document: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                    "config": config, "layers": layers}  # fmt: skip
        if subject is not None:
            document["subject"] = {k: subject[k] for k in ("mediaType", "digest", "size")}
        if artifact_type is not None:
            document["artifactType"] = artifact_type
        if annotations:
            document["annotations"] = annotations
        return self.json_blob(document, OCI_MANIFEST)

    def image(self, seed: str, size: int = 64 * 1024, arch: str = "amd64") -> Descriptor:
        """A one-layer linux/`arch` image; its descriptor carries the platform for an index."""
        layer, diff_id = self.layer(seed, size)
        config = self.json_blob(
            {"architecture": arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
             "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}}, OCI_CONFIG,
        )  # fmt: skip
        return {**self.manifest(config, [layer]), "platform": {"architecture": arch, "os": "linux"}}

    def attestation(self, image: Descriptor, seed: str) -> Descriptor:
        """A buildx provenance attestation of `image`, as buildx lists it in the index."""
        statement = self.blob(json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
                                          "seed": seed}).encode(), IN_TOTO)  # fmt: skip
        statement["annotations"] = {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}
        config = self.json_blob({"architecture": "unknown", "os": "unknown",
                                 "rootfs": {"type": "layers", "diff_ids": []}}, OCI_CONFIG)  # fmt: skip
        return {**self.manifest(config, [statement]),
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                "vnd.docker.reference.digest": digest_of(image)}}  # fmt: skip

    def index(self, manifests: list[Descriptor]) -> Descriptor:
        return self.json_blob({"schemaVersion": 2, "mediaType": OCI_INDEX,
                               "manifests": manifests}, OCI_INDEX)  # fmt: skip

    def signature(self, image: Descriptor) -> Descriptor:
        """A cosign-style signature of `image`: pushed under the tag `cosign_tag(image)`."""
        payload = self.blob(json.dumps({"critical": {"image": {
            "docker-manifest-digest": digest_of(image)}}}).encode(), COSIGN_PAYLOAD)  # fmt: skip
        payload["annotations"] = {"dev.cosignproject.cosign/signature": "MEUCIQDtest"}
        config = self.json_blob({"architecture": "", "os": "",
                                 "rootfs": {"type": "layers", "diff_ids": []}}, OCI_CONFIG)  # fmt: skip
        return self.manifest(config, [payload])

    def referrer(self, subject: Descriptor, seed: str) -> Descriptor:
        """An OCI 1.1 artifact (an SBOM, say) whose `subject` is the given manifest."""
        body = self.blob(json.dumps({"sbom": seed}).encode(), "application/spdx+json")
        return self.manifest(self.blob(b"{}", OCI_EMPTY), [body], subject=subject,
                             artifact_type="application/spdx+json")  # fmt: skip

    def name(self, ref: str, descriptor: Descriptor) -> None:
        """List the descriptor in index.json as `ref`, so that `oci:DIR:ref` names it."""
        index_path = self.directory / "index.json"
        index: dict[str, Any] = (json.loads(index_path.read_text()) if index_path.exists()
                 else {"schemaVersion": 2, "manifests": []})  # fmt: skip
        entry = {k: descriptor[k] for k in ("mediaType", "digest", "size")}
        index["manifests"].append(
            {**entry, "annotations": {"org.opencontainers.image.ref.name": ref}}
        )
        index_path.write_text(json.dumps(index))
        (self.directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def cosign_tag(image: Descriptor) -> str:
    """The tag cosign stores a signature of `image` under: sha256-<hex>.sig."""
    return digest_of(image).replace(":", "-") + ".sig"
