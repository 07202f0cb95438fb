"""Model weights: download from a real HTTP server on 127.0.0.1 (Range resume, cut connections, changed
files, bad files), install from file, and the verifiers. No bpy, no internet."""
from __future__ import annotations

import http.server
import re
import socket
import sys
import threading
from pathlib import Path

import pytest
import torch

from backend.checkpoint import build_network, read_checkpoint, save_checkpoint
from backend.networks import LevelOptions, PIFuHD
from pifuhd_blender.setup import weights
from pifuhd_blender.setup.jobs import SetupCancelled

REPO = Path(__file__).resolve().parents[2]

# The smallest PIFuHD that still loads: the hourglass filters have a fixed width, so ~5 M parameters.
COARSE = dict(loadSize=512, num_stack=1, hg_depth=1, hg_dim=8, norm="group", hg_down="ave_pool",
              mlp_norm="none", mlp_dim=[9, 8, 4, 1], merge_layer=1, mlp_res_layers=[1], z_size=200.0,
              use_front_normal=False, use_back_normal=False)
FINE = dict(loadSize=1024, num_stack=1, hg_depth=1, hg_dim=4, norm="batch", mlp_norm="none",
            mlp_dim=[12, 8, 1], merge_layer=-1, mlp_res_layers=[1], z_size=200.0)

read_only = weights.reader_verifier(read_checkpoint)
full_check = weights.reader_verifier(lambda p: build_network(read_checkpoint(p)))


@pytest.fixture(scope="session")
def checkpoint_bytes(tmp_path_factory) -> bytes:
    """A valid tiny PIFuHD checkpoint (fp16 weights, ~10 MB) in the official layout."""
    torch.manual_seed(0)
    net = PIFuHD(LevelOptions.from_namespace(COARSE, fine=False), LevelOptions.from_namespace(FINE, fine=True))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(net.half(), COARSE, FINE, path)
    return path.read_bytes()


@pytest.fixture(scope="session")
def not_pifuhd_bytes(tmp_path_factory) -> bytes:
    """A valid PyTorch file that is not a PIFuHD checkpoint."""
    path = tmp_path_factory.mktemp("other") / "other.pt"
    torch.save({"weights": torch.zeros(1000)}, path)
    return path.read_bytes()


class FileServer:
    """A threaded HTTP server with byte ranges, ETag/If-Range, 404s, and scripted connection drops."""

    def __init__(self):
        self.files: dict[str, dict] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                server.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def put(self, name: str, data: bytes, etag: str = '"v1"', drops: list[int] | None = None,
            ignore_range: bool = False) -> str:
        """Serve ``data`` at /name; each request pops ``drops`` and cuts the connection after that many bytes."""
        self.files["/" + name] = dict(data=data, etag=etag, drops=list(drops or []), ignore_range=ignore_range)
        return self.url(name)

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        spec = self.files.get(h.path)
        self.requests.append(dict(path=h.path, range=h.headers.get("Range"), if_range=h.headers.get("If-Range")))
        if spec is None:
            h.send_error(404, "Not Found")
            return
        data, start, status = spec["data"], 0, 200
        rng, if_range = h.headers.get("Range"), h.headers.get("If-Range")
        if rng and not spec["ignore_range"] and (if_range is None or if_range == spec["etag"]):
            start = int(re.match(r"bytes=(\d+)-$", rng).group(1))
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            status = 206
        body = data[start:]
        h.send_response(status)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("ETag", spec["etag"])
        h.send_header("Accept-Ranges", "bytes")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        cut = spec["drops"].pop(0) if spec["drops"] else None
        self.requests[-1]["sent"] = len(body) if cut is None else min(cut, len(body))
        if cut is None:
            h.wfile.write(body)
            return
        h.wfile.write(body[:cut])
        h.wfile.flush()
        h.connection.shutdown(socket.SHUT_RDWR)  # the connection drops mid-file
        h.close_connection = True


@pytest.fixture
def server():
    s = FileServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def dest(tmp_path) -> Path:
    return weights.model_file(tmp_path / "user")


def download(urls, dest, **kw):
    kw.setdefault("verify", read_only)
    kw.setdefault("backoff", 0.0)
    kw.setdefault("timeout", 10.0)
    return weights.download_model(urls if isinstance(urls, list) else [urls], dest, online_access=True,
                                  accepted_licence=True, **kw)


def leftovers(dest: Path) -> list[str]:
    """Files in the models folder other than the model and its provenance record."""
    if not dest.parent.exists():
        return []
    return sorted(p.name for p in dest.parent.iterdir() if p.name not in (dest.name, dest.name + ".json"))


def test_download_installs_a_verified_model(server, dest, checkpoint_bytes):
    url = server.put("pifuhd.pt", checkpoint_bytes)
    seen = []
    info = download(url, dest, verify=full_check, progress=lambda f, s: seen.append((f, s)))
    assert dest.read_bytes() == checkpoint_bytes
    assert info.size == len(checkpoint_bytes) and info.source == url
    assert leftovers(dest) == []
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(s.startswith("Downloading") for _, s in seen)
    record = weights.model_status(dest)
    assert record.installed and record.info["source"] == url and record.info["licence"] == "CC BY-NC 4.0"


def test_resumes_after_a_cut_connection(server, dest, checkpoint_bytes):
    cut = len(checkpoint_bytes) // 3
    url = server.put("pifuhd.pt", checkpoint_bytes, drops=[cut])
    download(url, dest)
    assert dest.read_bytes() == checkpoint_bytes
    first, second = server.requests
    assert first["range"] is None and first["sent"] == cut
    assert second["range"] == f"bytes={cut}-" and second["if_range"] == '"v1"'
    assert second["sent"] == len(checkpoint_bytes) - cut  # only the rest was transferred again
    assert leftovers(dest) == []


def test_interrupted_download_continues_next_time(server, dest, checkpoint_bytes):
    cut = len(checkpoint_bytes) // 2
    url = server.put("pifuhd.pt", checkpoint_bytes, drops=[cut, 0])
    with pytest.raises(weights.WeightsError, match="kept: Download continues"):
        download(url, dest, retries=0)
    part, _ = weights.part_paths(dest)
    assert not dest.exists() and part.stat().st_size == cut
    assert weights.model_status(dest).partial_bytes == cut
    download(url, dest)
    assert dest.read_bytes() == checkpoint_bytes
    assert [r["range"] for r in server.requests] == [None, f"bytes={cut}-", f"bytes={cut}-"]
    assert leftovers(dest) == []


def test_corrupt_file_is_rejected_and_the_old_model_untouched(server, dest, checkpoint_bytes):
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"the previous model")
    url = server.put("pifuhd.pt", bytes(range(256)) * 8000)
    with pytest.raises(weights.WeightsError, match="not a usable PIFuHD model.*installed model is unchanged"):
        download(url, dest)
    assert dest.read_bytes() == b"the previous model"
    assert leftovers(dest) == []  # no .part kept: a bad complete file would only be verified again


@pytest.mark.parametrize("kind", ["truncated", "not_pifuhd"])
def test_damaged_or_foreign_checkpoints_are_not_installed(server, dest, checkpoint_bytes, not_pifuhd_bytes, kind):
    data = checkpoint_bytes[: len(checkpoint_bytes) // 2] if kind == "truncated" else not_pifuhd_bytes
    url = server.put("pifuhd.pt", data)
    with pytest.raises(weights.WeightsError) as err:
        download(url, dest)
    message = str(err.value)
    assert ("incomplete or damaged" if kind == "truncated" else "not a PIFuHD checkpoint") in message
    assert ".part" not in message and url in message  # names what the user downloaded, not our temp file
    assert not dest.exists() and leftovers(dest) == []


def test_wrong_size_is_rejected(server, dest, checkpoint_bytes):
    url = server.put("pifuhd.pt", checkpoint_bytes)
    with pytest.raises(weights.WeightsError, match=rf"{len(checkpoint_bytes):,} bytes but"):
        download(url, dest, expected_size=len(checkpoint_bytes) + 1)
    assert not dest.exists() and leftovers(dest) == []


def test_a_connection_that_keeps_failing_installs_nothing(server, dest, checkpoint_bytes):
    url = server.put("pifuhd.pt", checkpoint_bytes, drops=[1000] + [0] * 10)
    with pytest.raises(weights.WeightsError, match="keeps failing"):
        download(url, dest, retries=2)
    assert not dest.exists()
    assert len(server.requests) == 4  # the first try, then 3 more without progress
    assert weights.part_paths(dest)[0].stat().st_size == 1000  # kept for the next try


def test_online_access_off_refuses_before_any_request(server, dest, checkpoint_bytes):
    url = server.put("pifuhd.pt", checkpoint_bytes)
    with pytest.raises(weights.WeightsError, match="Allow Online Access"):
        weights.download_model([url], dest, online_access=False, accepted_licence=True, verify=read_only)
    with pytest.raises(weights.WeightsError, match="Accept the PIFuHD licence"):
        weights.download_model([url], dest, online_access=True, accepted_licence=False, verify=read_only)
    assert server.requests == [] and not dest.parent.exists()


def test_falls_back_to_the_next_url(server, dest, checkpoint_bytes):
    mirror = server.put("mirror/pifuhd.pt", checkpoint_bytes)
    info = download([server.url("missing.pt"), mirror], dest)
    assert info.source == mirror and dest.read_bytes() == checkpoint_bytes
    with pytest.raises(weights.WeightsError, match="HTTP 404"):
        download([server.url("missing.pt")], dest.with_name("other.pt"))


def test_server_ignoring_ranges_restarts_cleanly(server, dest, checkpoint_bytes):
    cut = len(checkpoint_bytes) // 4
    url = server.put("pifuhd.pt", checkpoint_bytes, drops=[cut], ignore_range=True)
    download(url, dest)
    assert dest.read_bytes() == checkpoint_bytes
    assert server.requests[1]["range"] == f"bytes={cut}-" and server.requests[1]["sent"] == len(checkpoint_bytes)


def test_changed_file_on_the_server_is_downloaded_again(server, dest, checkpoint_bytes, not_pifuhd_bytes):
    old = not_pifuhd_bytes + b"\0" * (len(checkpoint_bytes) - len(not_pifuhd_bytes))
    url = server.put("pifuhd.pt", old, etag='"old"', drops=[5000, 0])
    with pytest.raises(weights.WeightsError):
        download(url, dest, retries=0)
    server.put("pifuhd.pt", checkpoint_bytes, etag='"new"')
    download(url, dest)
    assert dest.read_bytes() == checkpoint_bytes  # If-Range made the server send the whole new file
    assert server.requests[-1]["if_range"] == '"old"' and server.requests[-1]["sent"] == len(checkpoint_bytes)


def test_cancel_keeps_the_partial_download(server, dest, checkpoint_bytes):
    url = server.put("pifuhd.pt", checkpoint_bytes)
    cancel = threading.Event()

    def progress(fraction, stage):
        if fraction > 0.1:
            cancel.set()
    with pytest.raises(SetupCancelled):
        download(url, dest, progress=progress, cancel=cancel, chunk_size=64 * 1024)
    part, _ = weights.part_paths(dest)
    assert not dest.exists() and 0 < part.stat().st_size < len(checkpoint_bytes)
    download(url, dest)
    assert dest.read_bytes() == checkpoint_bytes and server.requests[-1]["range"] is not None


def test_install_from_file(tmp_path, dest, checkpoint_bytes):
    source = tmp_path / "Downloads" / "pifuhd.pt"
    source.parent.mkdir()
    source.write_bytes(checkpoint_bytes)
    info = weights.install_from_file(source, dest, verify=read_only, accepted_licence=True)
    assert dest.read_bytes() == checkpoint_bytes and info.source == str(source)
    assert source.exists() and leftovers(dest) == []
    assert weights.model_status(dest).info["source"] == str(source)


def test_install_from_file_rejects_a_bad_file_atomically(tmp_path, dest, checkpoint_bytes):
    dest.parent.mkdir(parents=True)
    dest.write_bytes(checkpoint_bytes)
    bad = tmp_path / "pifuhd.pt"
    bad.write_bytes(checkpoint_bytes[:-1000])
    with pytest.raises(weights.WeightsError, match="incomplete or damaged.*installed model is unchanged"):
        weights.install_from_file(bad, dest, verify=read_only, accepted_licence=True)
    assert dest.read_bytes() == checkpoint_bytes and leftovers(dest) == []
    with pytest.raises(weights.WeightsError, match="File not found"):
        weights.install_from_file(tmp_path / "nope.pt", dest, verify=read_only, accepted_licence=True)
    with pytest.raises(weights.WeightsError, match="Accept the PIFuHD licence"):
        weights.install_from_file(bad, dest, verify=read_only, accepted_licence=False)


def test_subprocess_verifier_uses_the_backend_loader(tmp_path):
    """A good file passes it in test_setup_ui (through the operator); here: refusals, and no backend."""
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(weights.WeightsError, match="incomplete or damaged") as err:
        weights.subprocess_verifier(sys.executable, REPO)(bad)
    assert not isinstance(err.value, weights.VerifierUnavailable)
    with pytest.raises(weights.VerifierUnavailable, match="Install the dependencies first"):
        weights.subprocess_verifier(sys.executable, tmp_path, full=False)(bad)


def test_url_list_parsing():
    text = f" {weights.OFFICIAL_URL}\nhttp://mirror.example/p.pt, {weights.OFFICIAL_URL}"
    assert weights.parse_urls(text) == [weights.OFFICIAL_URL, "http://mirror.example/p.pt"]
    with pytest.raises(weights.WeightsError, match="file:///etc/passwd"):
        weights.parse_urls("file:///etc/passwd")
    assert weights.DEFAULT_URLS[0] == "https://dl.fbaipublicfiles.com/pifuhd/checkpoints/pifuhd.pt"
