"""Tests of pipelines.inputs.manifest and pipelines.inputs.sources.

Synthetic datasets live in tmp folders with a manifest made in the test; downloads come
from an http.server on 127.0.0.1 started here. No test touches the real cache.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
from pathlib import Path

import pytest

from pipelines.errors import ChecksumMismatch, ConfigError, DatasetUnavailable
from pipelines.inputs import manifest as manifest_module
from pipelines.inputs import sources
from pipelines.inputs.manifest import (
    UnknownDatasetError,
    get_dataset_entry,
    load_manifest,
    parse_manifest,
)
from pipelines.inputs.sources import read_verified, resolve_dataset, verify_file

A_CONTENT = b"alpha content\n" * 50
B_CONTENT = b"beta,1\ngamma,2\n"
SUBDIR = "toys/toy"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _toy_doc(urls_a=None, urls_b=None, system_dirs=(), **file_a_extra) -> dict:
    return {
        "datasets": {
            "toy": {
                "subdir": SUBDIR,
                "title": "a toy dataset",
                "system_dirs": [str(d) for d in system_dirs],
                "notes": "Toys are made by hand.",
                "files": [
                    {
                        "name": "a.bin.gz",
                        "sha256": _sha(A_CONTENT),
                        "size": len(A_CONTENT),
                        "decompress": "gzip",
                        "urls": urls_a,
                        **file_a_extra,
                    },
                    {
                        "name": "b.txt",
                        "sha256": _sha(B_CONTENT),
                        "size": len(B_CONTENT),
                        "decompress": "none",
                        "urls": urls_b,
                    },
                ],
            }
        }
    }


def _toy_manifest(**kwargs):
    return parse_manifest(_toy_doc(**kwargs))


def _write_toy(directory: Path, *, only: tuple[str, ...] = ("a.bin.gz", "b.txt"), mtime: float = 0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if "a.bin.gz" in only:
        (directory / "a.bin.gz").write_bytes(gzip.compress(A_CONTENT, mtime=mtime))
    if "b.txt" in only:
        (directory / "b.txt").write_bytes(B_CONTENT)
    return directory


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No PIPELINES_DATA_DIR, an empty cache in tmp, offline."""
    monkeypatch.delenv("PIPELINES_DATA_DIR", raising=False)
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIPELINES_OFFLINE", "1")
    return tmp_path


# ------------------------------------------------------------------------ resolution


def test_argument_beats_env_beats_cache(env, monkeypatch):
    manifest = _toy_manifest()
    argument = _write_toy(env / "arg")
    _write_toy(env / "envroot" / SUBDIR)
    _write_toy(env / "cache" / SUBDIR)
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(env / "envroot"))

    by_argument = resolve_dataset("toy", argument, manifest=manifest)
    by_env = resolve_dataset("toy", manifest=manifest)
    monkeypatch.delenv("PIPELINES_DATA_DIR")
    by_cache = resolve_dataset("toy", manifest=manifest)

    assert (by_argument.source, by_argument.directory) == ("argument", argument)
    assert (by_env.source, by_env.directory) == ("env", env / "envroot" / SUBDIR)
    assert (by_cache.source, by_cache.directory) == ("cache", env / "cache" / SUBDIR)
    assert by_cache.files == {
        "a.bin.gz": env / "cache" / SUBDIR / "a.bin.gz",
        "b.txt": env / "cache" / SUBDIR / "b.txt",
    }
    assert by_argument.checksum_verified and by_env.checksum_verified


def test_cache_beats_system_and_system_is_used_last(env):
    system = _write_toy(env / "usr-share-toy")
    manifest = _toy_manifest(system_dirs=[env / "nowhere", system])

    by_system = resolve_dataset("toy", manifest=manifest)
    _write_toy(env / "cache" / SUBDIR)
    by_cache = resolve_dataset("toy", manifest=manifest)

    assert (by_system.source, by_system.directory) == ("system", system)
    assert by_cache.source == "cache"


@pytest.mark.parametrize("layout", ["own folder", "root", "tail of subdir"])
def test_argument_may_be_the_dataset_folder_or_a_root(env, layout):
    root = env / "given"
    folder = {"own folder": root, "root": root / SUBDIR, "tail of subdir": root / "toy"}
    _write_toy(folder[layout])

    resolved = resolve_dataset("toy", root, manifest=_toy_manifest())

    assert resolved.directory == folder[layout]


def test_incomplete_argument_is_an_error_even_if_env_has_the_files(env, monkeypatch):
    _write_toy(env / "envroot" / SUBDIR)
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(env / "envroot"))
    _write_toy(env / "arg", only=("b.txt",))

    with pytest.raises(DatasetUnavailable, match=r"(?s)no other place.*missing a\.bin\.gz"):
        resolve_dataset("toy", env / "arg", manifest=_toy_manifest())


def test_incomplete_env_folder_is_an_error_not_a_miss(env, monkeypatch):
    _write_toy(env / "envroot" / SUBDIR, only=("a.bin.gz",))
    _write_toy(env / "cache" / SUBDIR)
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(env / "envroot"))

    with pytest.raises(DatasetUnavailable, match=r"(?s)incomplete copy.*- b\.txt: sha256"):
        resolve_dataset("toy", manifest=_toy_manifest())


def test_corrupt_file_in_env_raises_instead_of_falling_through(env, monkeypatch):
    bad = _write_toy(env / "envroot" / SUBDIR)
    (bad / "b.txt").write_bytes(b"something else\n")
    _write_toy(env / "cache" / SUBDIR)  # a good copy that must not be used silently
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(env / "envroot"))

    with pytest.raises(ChecksumMismatch, match="b.txt does not match"):
        resolve_dataset("toy", manifest=_toy_manifest())


def test_verify_false_does_not_read_the_files(env):
    folder = _write_toy(env / "arg")
    (folder / "b.txt").write_bytes(b"wrong")

    resolved = resolve_dataset("toy", folder, verify=False, manifest=_toy_manifest())

    assert resolved.checksum_verified is False
    with pytest.raises(ChecksumMismatch, match="does not match the manifest: expected sha256"):
        read_verified(resolved.files["b.txt"], _entry("b.txt"))


@pytest.mark.parametrize("how", ["offline", "download=False"])
def test_missing_dataset_names_files_checksums_and_folder(env, monkeypatch, how):
    if how == "download=False":
        monkeypatch.delenv("PIPELINES_OFFLINE")
    manifest = _toy_manifest(urls_a=["http://127.0.0.1:9/a.bin.gz"])

    with pytest.raises(DatasetUnavailable) as caught:
        resolve_dataset("toy", download=how != "download=False", manifest=manifest)

    message = str(caught.value)
    assert ("PIPELINES_OFFLINE=1 is set" if how == "offline" else "download=False") in message
    assert f"put these files in {env / 'cache' / SUBDIR}/" in message
    assert f"a.bin.gz: sha256 {_sha(A_CONTENT)} of its decompressed content" in message
    assert f"b.txt: sha256 {_sha(B_CONTENT)} of its content" in message
    assert "PIPELINES_DATA_DIR" in message and "Toys are made by hand." in message
    assert "no download URL: place it by hand" in message  # b.txt has no URL
    assert "Or allow the download" not in message  # b.txt could not be downloaded anyway


def test_offline_message_offers_the_download_when_every_file_has_a_url(env):
    manifest = _toy_manifest(urls_a=["http://127.0.0.1:9/a.bin.gz"], urls_b=["http://127.0.0.1:9/b.txt"])

    with pytest.raises(DatasetUnavailable, match=f"Or allow the download into {env / 'cache'} "):
        resolve_dataset("toy", manifest=manifest)


def test_missing_file_without_url_is_unavailable_even_online(env, monkeypatch):
    monkeypatch.delenv("PIPELINES_OFFLINE")
    with pytest.raises(DatasetUnavailable, match="no download URL for a.bin.gz, b.txt"):
        resolve_dataset("toy", manifest=_toy_manifest())


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(UnknownDatasetError, match="Unknown dataset 'mnsit'.*mnist") as caught:
        resolve_dataset("mnsit")
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, ConfigError)


# ---------------------------------------------------------------------------- checks


def _entry(name="a.bin.gz"):
    return get_dataset_entry("toy", _toy_manifest()).file(name)


def test_regzipped_copy_passes(tmp_path):
    first = tmp_path / "one" / "a.bin.gz"
    second = tmp_path / "two" / "a.bin.gz"
    first.parent.mkdir(), second.parent.mkdir()
    first.write_bytes(gzip.compress(A_CONTENT, compresslevel=9, mtime=0))
    second.write_bytes(gzip.compress(A_CONTENT, compresslevel=1, mtime=1234567890))
    assert first.read_bytes() != second.read_bytes()

    for path in (first, second):
        assert verify_file(path, _entry()) == _sha(A_CONTENT)
        assert read_verified(path, _entry()) == A_CONTENT


def _gz_variants() -> dict[str, bytes]:
    good = gzip.compress(A_CONTENT, mtime=0)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    return {"truncated": good[:-12], "flipped byte": bytes(flipped), "not gzip": A_CONTENT, "empty": b""}


@pytest.mark.parametrize("variant", list(_gz_variants()))
@pytest.mark.parametrize("check", [verify_file, read_verified])
def test_corrupt_gzip_raises_checksum_mismatch(tmp_path, variant, check):
    path = tmp_path / "a.bin.gz"
    path.write_bytes(_gz_variants()[variant])

    with pytest.raises(ChecksumMismatch, match=f"{path}.*expected sha256 {_sha(A_CONTENT)}"):
        check(path, _entry())


@pytest.mark.parametrize("check", [verify_file, read_verified])
def test_a_gzip_bomb_is_refused_at_the_manifest_size_without_inflating(tmp_path, check):
    import tracemalloc

    path = tmp_path / "a.bin.gz"
    path.write_bytes(gzip.compress(bytes(64 << 20), mtime=0))  # 64 KB on disk, 64 MiB inflated
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ChecksumMismatch, match=f"{path} holds more than the {len(A_CONTENT)} bytes"):
            check(path, _entry())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Inflating it whole (as gzip.decompress did) allocates the 64 MiB; reading stops past the size.
    assert peak < 8 << 20, peak


@pytest.mark.parametrize("check", [verify_file, read_verified])
def test_a_plain_file_larger_than_its_entry_is_refused(tmp_path, check):
    path = tmp_path / "b.txt"
    path.write_bytes(B_CONTENT + b"x" * 1000)
    with pytest.raises(ChecksumMismatch, match="holds more than the"):
        check(path, _entry("b.txt"))


@pytest.mark.parametrize("check", [verify_file, read_verified])
def test_wrong_content_names_expected_and_actual_checksum(tmp_path, check):
    path = tmp_path / "b.txt"
    path.write_bytes(b"tampered")

    with pytest.raises(ChecksumMismatch) as caught:
        check(path, _entry("b.txt"))

    assert str(path) in str(caught.value)
    assert f"expected sha256 {_sha(B_CONTENT)}" in str(caught.value)
    assert f"got sha256 {_sha(b'tampered')} (8 bytes)" in str(caught.value)


# ------------------------------------------------------------------------- downloads


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A threading http.server on 127.0.0.1 serving tmp_path/www; records the paths."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def online(env, monkeypatch):
    monkeypatch.delenv("PIPELINES_OFFLINE")
    return env


def test_downloads_into_the_cache_and_verifies(online, server):
    root, url, requests = server
    _write_toy(root, mtime=99)
    manifest = _toy_manifest(urls_a=[f"{url}/missing.gz", f"{url}/a.bin.gz"], urls_b=[f"{url}/b.txt"])

    resolved = resolve_dataset("toy", manifest=manifest)

    cache = online / "cache" / SUBDIR
    assert (resolved.source, resolved.directory) == ("download", cache)
    assert resolved.checksum_verified
    assert (cache / "a.bin.gz").read_bytes() == (root / "a.bin.gz").read_bytes()
    assert (cache / "b.txt").read_bytes() == B_CONTENT
    assert sorted(p.name for p in cache.iterdir()) == ["a.bin.gz", "b.txt"]  # no temp left
    assert requests == ["/missing.gz", "/a.bin.gz", "/b.txt"]  # 404, then the next URL
    assert resolve_dataset("toy", manifest=manifest).source == "cache"


def test_download_fetches_only_missing_files(online, server):
    root, url, requests = server
    _write_toy(root)
    _write_toy(online / "cache" / SUBDIR, only=("b.txt",))
    manifest = _toy_manifest(urls_a=[f"{url}/a.bin.gz"], urls_b=[f"{url}/b.txt"])

    assert resolve_dataset("toy", manifest=manifest).source == "download"
    assert requests == ["/a.bin.gz"]


def test_download_reads_members_of_a_tar_archive_once(online, server):
    root, url, requests = server
    with tarfile.open(root / "bundle.tar.gz", "w:gz") as tar:
        for name, content in [("pkg/a.bin.gz", gzip.compress(A_CONTENT)), ("pkg/b.txt", B_CONTENT)]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    doc = _toy_doc(urls_a=[f"{url}/bundle.tar.gz"], archive_member="pkg/a.bin.gz")
    doc["datasets"]["toy"]["files"][1].update(urls=[f"{url}/bundle.tar.gz"], archive_member="pkg/b.txt")

    resolved = resolve_dataset("toy", manifest=parse_manifest(doc))

    assert read_verified(resolved.files["b.txt"], _entry("b.txt")) == B_CONTENT
    assert read_verified(resolved.files["a.bin.gz"], _entry()) == A_CONTENT
    assert requests == ["/bundle.tar.gz"]
    assert sorted(p.name for p in resolved.directory.iterdir()) == ["a.bin.gz", "b.txt"]


def test_a_plain_archive_member_of_a_gzip_entry_is_cached_gzipped(online, server):
    # CIFAR-10's .tar.gz holds plain .bin files; the manifest (and the shared copy) has them gzip'd.
    root, url, _ = server
    with tarfile.open(root / "bundle.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("pkg/a.bin")
        info.size = len(A_CONTENT)
        tar.addfile(info, io.BytesIO(A_CONTENT))
    manifest = _toy_manifest(urls_a=[f"{url}/bundle.tar.gz"], archive_member="pkg/a.bin", urls_b=[f"{url}/b.txt"])
    (root / "b.txt").write_bytes(B_CONTENT)

    resolved = resolve_dataset("toy", manifest=manifest)

    assert gzip.decompress(resolved.files["a.bin.gz"].read_bytes()) == A_CONTENT
    assert read_verified(resolved.files["a.bin.gz"], _entry()) == A_CONTENT


def test_download_with_wrong_content_raises_and_leaves_nothing(online, server):
    root, url, _ = server
    (root / "b.txt").write_bytes(b"a different version\n")
    _write_toy(root, only=("a.bin.gz",))
    manifest = _toy_manifest(urls_a=[f"{url}/a.bin.gz"], urls_b=[f"{url}/b.txt"])

    with pytest.raises(ChecksumMismatch, match=f"{url}/b.txt .*expected sha256 {_sha(B_CONTENT)}"):
        resolve_dataset("toy", manifest=manifest)

    assert not (online / "cache" / SUBDIR / "b.txt").exists()
    assert not [p for p in (online / "cache" / SUBDIR).iterdir() if p.name.startswith(".")]


def test_failed_download_raises_unavailable_with_instructions(online):
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    manifest = _toy_manifest(urls_a=[f"http://127.0.0.1:{port}/a.bin.gz"], urls_b=[f"http://127.0.0.1:{port}/b.txt"])

    with pytest.raises(DatasetUnavailable) as caught:
        resolve_dataset("toy", manifest=manifest)

    message = str(caught.value)
    assert "the download failed" in message and f"127.0.0.1:{port}/a.bin.gz" in message
    assert f"a.bin.gz: sha256 {_sha(A_CONTENT)}" in message
    assert str(online / "cache" / SUBDIR) in message
    assert "Or retry the download" in message and "Or allow" not in message
    # Nothing is left behind: no empty dataset folder in the cache (it appeared in a source checkout's data/).
    assert not (online / "cache" / SUBDIR).exists()


# -------------------------------------------------------------------------- manifest


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "../evil.gz"),
        ("name", "/etc/passwd"),
        ("name", "a/b.gz"),
        ("name", ".."),
        ("name", ""),
        ("name", "a\\b.gz"),
        ("name", "C:evil"),
        ("subdir", "../up"),
        ("subdir", "/abs/toy"),
        ("subdir", "toys/../../up"),
        ("archive_member", "../x"),
        ("archive_member", "/x"),
    ],
)
def test_manifest_rejects_names_that_leave_the_folder(field, value):
    doc = _toy_doc()
    target = doc["datasets"]["toy"] if field == "subdir" else doc["datasets"]["toy"]["files"][0]
    target[field] = value

    with pytest.raises(ConfigError, match="single plain path component"):
        parse_manifest(doc)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("sha256", "abc", "64 digits"),
        ("size", -1, "non-negative"),
        ("decompress", "bz2", "unknown 'decompress'"),
        ("urls", ["file:///etc/passwd"], "http"),
    ],
)
def test_manifest_rejects_invalid_fields(field, value, match):
    doc = _toy_doc()
    doc["datasets"]["toy"]["files"][0][field] = value
    with pytest.raises(ConfigError, match=match):
        parse_manifest(doc)


def test_shipped_manifest_lists_the_datasets():
    manifest = load_manifest()

    assert {name: d.subdir for name, d in manifest.items()} == {
        "mnist": "mnist",
        "fashion_mnist": "fashion_mnist",
        "advertising": "advertising",
        "sentiment_mr": "sentiment",
        "imdb": "sentiment/imdb",
        "cifar10": "cifar10",
    }
    assert all(f.urls for f in manifest["mnist"].files)
    # CIFAR-10's files are members of one archive; the .bin files are kept gzip'd.
    assert {f.archive_member for f in manifest["cifar10"].files} >= {"cifar-10-batches-bin/test_batch.bin"}
    assert [f.is_gzip for f in manifest["cifar10"].files] == [True] * 6 + [False]
    assert all(len(f.urls) == 2 for f in manifest["mnist"].files)
    assert not any(f.urls for f in manifest["imdb"].files)
    assert "imdb_reviews" in manifest["imdb"].notes
    assert manifest["fashion_mnist"].system_dirs == (Path("/usr/share/datasets/fashion-mnist"),)
    assert manifest_module.default_manifest() == manifest


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path / "c"))
    assert sources.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("PIPELINES_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    checkout = sources._checkout_data_dir(Path(sources.__file__).resolve().parents[2])
    assert sources.default_cache_dir() == (checkout or tmp_path / "xdg" / "keras-pipelines")

    (tmp_path / "repo" / "data").mkdir(parents=True)
    assert sources._checkout_data_dir(tmp_path / "repo") is None  # no setup.cfg beside it
    (tmp_path / "repo" / "setup.cfg").write_text("[metadata]\n")
    assert sources._checkout_data_dir(tmp_path / "repo") == tmp_path / "repo" / "data"


# ------------------------------------------------------------------------- real data

DATA_DIR = os.environ.get("PIPELINES_DATA_DIR")


@pytest.mark.realdata
@pytest.mark.skipif(
    not DATA_DIR,
    reason="PIPELINES_DATA_DIR is not set; point it at a folder with one subfolder per dataset (e.g. shared/datasets)",
)
@pytest.mark.parametrize("name", ["mnist", "advertising", "sentiment_mr", "imdb", "cifar10"])
def test_real_files_match_the_manifest(name, monkeypatch, tmp_path):
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIPELINES_OFFLINE", "1")

    resolved = resolve_dataset(name)

    assert resolved.source == "env" and resolved.checksum_verified
    assert resolved.directory == Path(DATA_DIR) / load_manifest()[name].subdir
