"""The PIFuHD model weights: licence, resumable download, install from a file, verification.

The model goes to ``<extension user folder>/models/pifuhd.pt`` so add-on updates keep it. A download is
written to ``pifuhd.pt.part`` (with ``pifuhd.pt.part.json`` remembering the URL, size and ETag, so an
interrupted download resumes with an HTTP Range request) and renamed onto ``pifuhd.pt`` only after the
size check and the verifier (the backend's safe loader, run in a child process) accepted it. A file that
fails is deleted and the installed model is left as it was. Standard library only (urllib).
No bpy here: the caller passes Blender's "Allow Online Access" setting and the folders.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .jobs import CancelLike, ProgressFn, SetupError, check_cancel, sleep_unless_cancelled
from .deps import popen_flags, python_env

OFFICIAL_URL = "https://dl.fbaipublicfiles.com/pifuhd/checkpoints/pifuhd.pt"
DEFAULT_URLS = (OFFICIAL_URL,)
MODEL_FILENAME = "pifuhd.pt"
APPROX_SIZE_TEXT = "about 1.5 GB"
# The exact byte size / SHA-256 of the official file are not recorded here yet; the server's announced
# length is enforced instead, and the loader check catches anything that is not a PIFuHD checkpoint.
OFFICIAL_SIZE: Optional[int] = None

LICENCE_NAME = "CC BY-NC 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by-nc/4.0/"
SOURCE_URL = "https://github.com/facebookresearch/pifuhd"
LICENCE_SUMMARY = (
    "The PIFuHD model weights (pifuhd.pt) are published by Facebook Research",
    "(Saito et al., \"PIFuHD\", CVPR 2020) under the Creative Commons",
    "Attribution-NonCommercial 4.0 International licence (CC BY-NC 4.0).",
    "You may use them for non-commercial purposes only, and must credit the authors.",
    "They are not part of this add-on: they are downloaded from the authors' server.",
    "Read the licence and the official project page before accepting.",
)
USER_AGENT = "pifuhd-blender-addon (urllib)"
CHUNK = 256 * 1024
PROGRESS_DOWNLOAD = 0.9  # share of the progress bar for the transfer; the rest is checking


class WeightsError(SetupError):
    """Getting or checking the model failed; the message says what to do."""


class VerifierUnavailable(WeightsError):
    """The file could not be checked (PyTorch missing, out of memory): it is kept, nothing is installed."""


Verifier = Callable[[Path], None]  # raises WeightsError when the file is not a usable checkpoint

OFFLINE_MESSAGE = ("Online access is disabled in Blender (Preferences > System > Network > Allow Online "
                   "Access), so the model was not downloaded. Allow it and try again, or download "
                   f"{MODEL_FILENAME} yourself and use Install from File.")
LICENCE_MESSAGE = (f"Accept the PIFuHD licence ({LICENCE_NAME}, non-commercial use only) in the add-on's "
                   "preferences first.")


# ------------------------------------------------------------------------------------- paths

def model_file(user_dir: Path) -> Path:
    """Where the installed model lives inside the extension's user folder."""
    return Path(user_dir) / "models" / MODEL_FILENAME


def part_paths(dest: Path) -> tuple[Path, Path]:
    """The resumable partial download and its state file."""
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def info_path(dest: Path) -> Path:
    """The provenance record written next to an installed model."""
    return dest.with_name(dest.name + ".json")


@dataclass(frozen=True)
class ModelStatus:
    """What is installed at ``path`` and how much of a download is waiting to be resumed."""

    path: Path
    installed: bool
    size: int = 0
    info: Optional[dict] = None
    partial_bytes: int = 0
    partial_total: Optional[int] = None

    def describe(self) -> str:
        if self.installed:
            source = (self.info or {}).get("source")
            return f"Installed: {self.path.name} ({format_size(self.size)})" + (f" from {source}" if source else "")
        text = "Not installed"
        if self.partial_bytes:
            of = f" of {format_size(self.partial_total)}" if self.partial_total else ""
            text += f"; {format_size(self.partial_bytes)}{of} downloaded, Download resumes it"
        return text


def model_status(dest: Path) -> ModelStatus:
    dest = Path(dest)
    part, meta = part_paths(dest)
    info = _read_json(info_path(dest))
    partial = part.stat().st_size if part.is_file() else 0
    total = (_read_json(meta) or {}).get("total") if partial else None
    if dest.is_file():
        return ModelStatus(dest, True, dest.stat().st_size, info, partial, total)
    return ModelStatus(dest, False, 0, None, partial, total)


def format_size(n: Optional[int]) -> str:
    if n is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _read_json(path: Path) -> Optional[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _unlink(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


# ------------------------------------------------------------------------------ preconditions

def parse_urls(text: str | Sequence[str]) -> list[str]:
    """URLs from a preference string (separated by spaces, commas, semicolons or new lines), in order.
    Only http(s) URLs are accepted."""
    items = re.split(r"[\s,;]+", text) if isinstance(text, str) else list(text)
    urls, bad = [], []
    for item in (i.strip() for i in items):
        if not item:
            continue
        parsed = urllib.parse.urlsplit(item)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            if item not in urls:
                urls.append(item)
        else:
            bad.append(item)
    if bad:
        raise WeightsError(f"Not a download URL (http or https): {', '.join(bad)}. Fix the URL list.")
    return urls


def check_download_allowed(online_access: bool, accepted_licence: bool) -> None:
    """Refuse before any network use: licence first, then Blender's online-access setting."""
    if not accepted_licence:
        raise WeightsError(LICENCE_MESSAGE)
    if not online_access:
        raise WeightsError(OFFLINE_MESSAGE)


# --------------------------------------------------------------------------------- verifiers

def reader_verifier(read: Callable[[Path], Any]) -> Verifier:
    """A verifier that calls ``read(path)`` in this process (e.g. ``backend.checkpoint.read_checkpoint``);
    any exception it raises means the file is not usable. For tests and for a worker that has torch."""
    def verify(path: Path) -> None:
        try:
            read(path)
        except (ImportError, MemoryError) as err:
            raise VerifierUnavailable(f"The model could not be checked: {err}.") from None
        except Exception as err:
            raise WeightsError(str(err)) from None
    return verify


def subprocess_verifier(python: str, backend_root: Path, append_paths: Sequence[str] = (), *,
                        external: bool = False, full: bool = True, cancel: CancelLike = None,
                        timeout: float = 1800.0) -> Verifier:
    """A verifier that loads the file with the backend's safe loader in a child ``python`` (Blender's own,
    with the add-on's site dir in ``append_paths``, or an external interpreter), so torch and the weights
    never enter Blender's process. ``full`` also builds the network (reads every tensor)."""
    script = Path(__file__).with_name("_verify_worker.py")

    def verify(path: Path) -> None:
        args = [python] + ([] if external else ["-s"]) + [
            str(script), str(path), json.dumps([str(backend_root)]), json.dumps([str(p) for p in append_paths]),
            "full" if full else "read"]
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=python_env(external), **popen_flags())
        except OSError as err:
            raise VerifierUnavailable(f"Could not start {python} to check the model: {err}.") from None
        end = time.monotonic() + timeout
        try:
            while True:
                try:
                    out, err_text = proc.communicate(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > end:
                        raise VerifierUnavailable(f"Checking the model took more than {timeout:.0f} s.") from None
                    check_cancel(cancel)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        answer = None
        for line in out.decode("utf-8", "replace").splitlines():
            if line.startswith("PIFUHD-VERIFY "):
                answer = json.loads(line[len("PIFUHD-VERIFY "):])
        if answer is None:
            tail = [ln for ln in err_text.decode("utf-8", "replace").splitlines() if ln.strip()]
            why = " (it was killed: probably out of memory)" if proc.returncode in (-9, 137) else ""
            raise VerifierUnavailable(f"The model check stopped unexpectedly{why}, exit code {proc.returncode}"
                                      + (f": {tail[-1].strip()}" if tail else "") + ".")
        if answer.get("ok"):
            return
        if answer.get("kind") == "unavailable":
            raise VerifierUnavailable(
                f"The model could not be checked because the backend cannot be loaded ({answer.get('message')}). "
                "Install the dependencies first (or fix the external interpreter), then try again.")
        raise WeightsError(str(answer.get("message")))
    return verify


# ------------------------------------------------------------------------------ finishing

@dataclass(frozen=True)
class ModelInfo:
    """An installed, verified model."""

    path: Path
    size: int
    source: str
    sha256: Optional[str] = None


def _sha256(path: Path, cancel: CancelLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            check_cancel(cancel)
            h.update(block)
    return h.hexdigest()


def _install_verified(tmp: Path, dest: Path, *, source: str, verify: Verifier, expected_size: Optional[int],
                      sha256: Optional[str], report: ProgressFn, cancel: CancelLike,
                      discard: Sequence[Path] = ()) -> ModelInfo:
    """Check ``tmp`` (size, optional hash, the verifier) and rename it onto ``dest``. A bad file is deleted
    together with ``discard``; the previous ``dest`` stays untouched unless the new file is good."""
    kept = "the installed model is unchanged" if dest.is_file() else "nothing was installed"
    size = tmp.stat().st_size

    def reject(why: str) -> WeightsError:
        _unlink(tmp, *discard)
        return WeightsError(f"{why} The file was deleted; {kept}.")

    if expected_size is not None and size != expected_size:
        raise reject(f"The model file has {size:,} bytes but {expected_size:,} were expected, so it is not "
                     "the right file (check the download URL).")
    digest = None
    if sha256:
        report(PROGRESS_DOWNLOAD, "Checking the SHA-256")
        digest = _sha256(tmp, cancel)
        if digest.lower() != sha256.lower():
            raise reject(f"The model file's SHA-256 is {digest}, not the expected {sha256}.")
    report(PROGRESS_DOWNLOAD + 0.02, "Checking that the file loads as a PIFuHD model")
    try:
        verify(tmp)
    except VerifierUnavailable:
        raise
    except WeightsError as err:
        message = str(err).replace(str(tmp), source)
        raise reject(f"This is not a usable PIFuHD model: {message}") from None
    check_cancel(cancel)
    try:
        os.replace(tmp, dest)
    except OSError as err:
        raise WeightsError(f"The checked model could not replace {dest} ({err}): it is probably in use by a "
                           "running reconstruction. Stop it (or restart Blender) and try again.") from None
    _unlink(*discard)
    _write_json(info_path(dest), {
        "file": dest.name, "size": size, "source": source, "sha256": digest,
        "installed": time.strftime("%Y-%m-%dT%H:%M:%S"), "licence": LICENCE_NAME,
        "licence_url": LICENCE_URL, "project": SOURCE_URL})
    report(1.0, "Model installed")
    return ModelInfo(dest, size, source, digest)


# ------------------------------------------------------------------------------- download

class _Retry(Exception):
    """A transient failure: try the same URL again (resuming)."""


class _Restart(Exception):
    """The partial file cannot be continued (the server's file changed or it ignored the range)."""


class _UrlFailed(Exception):
    """This URL will not work (HTTP 404, ...): try the next one."""


def _ssl_context() -> ssl.SSLContext:
    try:
        import certifi  # Blender bundles it (for requests); the system store may be missing on some systems
        return ssl.create_default_context(cafile=certifi.where())
    except Exception:
        return ssl.create_default_context()


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=_ssl_context()))


def _content_range(value: Optional[str]) -> tuple[Optional[int], Optional[int]]:
    """'bytes 100-199/1000' -> (100, 1000); total None for '*'."""
    m = re.match(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)", value or "")
    if not m:
        return None, None
    return int(m.group(1)), (None if m.group(3) == "*" else int(m.group(3)))


def _fetch_once(opener, url: str, part: Path, meta_path: Path, report: Callable[[int, Optional[int], bool], None],
                cancel: CancelLike, timeout: float, chunk_size: int) -> None:
    """One HTTP request that continues ``part`` from its current size; returns when it is complete."""
    state = _read_json(meta_path)
    if state is None or state.get("url") != url or not part.is_file():
        _unlink(part)
        state = {"url": url}
    offset = part.stat().st_size if part.is_file() else 0
    total = state.get("total")
    if offset and total == offset:
        return  # complete already (e.g. the check failed for want of PyTorch last time)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        etag = state.get("etag")
        validator = etag if etag and not etag.startswith("W/") else state.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    try:
        resp = opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            _unlink(part, meta_path)
            raise _Restart("the server refused to continue the partial download") from None
        if err.code >= 500 or err.code == 429:
            raise _Retry(f"HTTP {err.code} {err.reason}") from None
        raise _UrlFailed(f"HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _Retry(str(getattr(err, "reason", err))) from None
    with resp:
        status = resp.status
        if status == 206:
            start, total = _content_range(resp.headers.get("Content-Range"))
            if start != offset:
                _unlink(part, meta_path)
                raise _Restart("the server sent a different part of the file than asked")
            if offset and state.get("total") and total and total != state["total"]:
                _unlink(part, meta_path)
                raise _Restart("the file on the server changed")
        elif status == 200:
            offset = 0  # no resume (the server ignored the range, or the file changed): start over
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        else:
            raise _UrlFailed(f"unexpected HTTP status {status}")
        state.update(url=url, total=total, etag=resp.headers.get("ETag"),
                     last_modified=resp.headers.get("Last-Modified"))
        _write_json(meta_path, state)
        resumed = offset > 0
        with open(part, "ab" if offset else "wb") as fh:
            while True:
                check_cancel(cancel)
                try:
                    data = resp.read(chunk_size)
                except (OSError, http.client.HTTPException) as err:
                    raise _Retry(f"connection lost after {offset:,} bytes ({type(err).__name__})") from None
                if not data:
                    break
                fh.write(data)
                offset += len(data)
                report(offset, total, resumed)
    if total is not None and offset < total:
        raise _Retry(f"connection closed after {offset:,} of {total:,} bytes")
    if total is not None and offset > total:
        _unlink(part, meta_path)
        raise _UrlFailed(f"the server sent more data ({offset:,} bytes) than it announced ({total:,})")
    if total is None:
        state["total"] = offset
        _write_json(meta_path, state)


def _download_url(opener, url: str, part: Path, meta_path: Path, report, cancel: CancelLike, *,
                  retries: int, backoff: float, timeout: float, chunk_size: int) -> None:
    """Fetch ``url`` into ``part``, resuming after drops; gives up after ``retries`` tries without progress."""
    stuck = 0
    while True:
        check_cancel(cancel)
        before = part.stat().st_size if part.is_file() else 0
        try:
            _fetch_once(opener, url, part, meta_path, report, cancel, timeout, chunk_size)
            return
        except (_Retry, _Restart) as err:
            after = part.stat().st_size if part.is_file() else 0
            stuck = 0 if (isinstance(err, _Retry) and after > before) else stuck + 1
            if stuck > retries:
                raise _UrlFailed(f"the download keeps failing ({err})") from None
            sleep_unless_cancelled(backoff * min(2 ** (stuck - 1), 30) if stuck else 0.0, cancel)


def download_model(urls: Sequence[str], dest: Path, *, online_access: bool, accepted_licence: bool,
                   verify: Verifier, expected_size: Optional[int] = OFFICIAL_SIZE, sha256: Optional[str] = None,
                   progress: Optional[ProgressFn] = None, cancel: CancelLike = None, retries: int = 4,
                   backoff: float = 1.0, timeout: float = 30.0, chunk_size: int = CHUNK,
                   opener: Optional[urllib.request.OpenerDirector] = None) -> ModelInfo:
    """Download the model to ``dest`` from the first URL that works (official first), resuming a previous
    partial download, then verify it and rename it into place.

    Refuses without the licence accepted or with online access off (before any request). Raises
    :class:`WeightsError` with an actionable message, or ``SetupCancelled`` (the partial file is kept
    so the next try resumes).
    """
    check_download_allowed(online_access, accepted_licence)
    urls = parse_urls(urls)
    if not urls:
        raise WeightsError(f"No download URL is set: add one (the official one is {OFFICIAL_URL}).")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part, meta_path = part_paths(dest)
    owner = (_read_json(meta_path) or {}).get("url")
    if owner in urls:  # continue the partial download where it came from
        urls.remove(owner)
        urls.insert(0, owner)
    report = progress or (lambda f, s: None)
    opener = opener or _opener()

    def on_bytes(done: int, total: Optional[int], resumed: bool) -> None:
        how = "Resuming download" if resumed else "Downloading"
        if total:
            report(PROGRESS_DOWNLOAD * done / total, f"{how}: {format_size(done)} of {format_size(total)}")
        else:
            report(0.0, f"{how}: {format_size(done)}")

    failures = []
    for url in urls:
        report(0.0, f"Connecting to {urllib.parse.urlsplit(url).netloc}")
        try:
            _download_url(opener, url, part, meta_path, on_bytes, cancel, retries=retries, backoff=backoff,
                          timeout=timeout, chunk_size=chunk_size)
        except _UrlFailed as err:
            failures.append(f"{url}: {err}")
            continue
        return _install_verified(part, dest, source=url, verify=verify, expected_size=expected_size,
                                 sha256=sha256, report=report, cancel=cancel, discard=(meta_path,))
    kept = part.stat().st_size if part.is_file() else 0
    resume = f" {format_size(kept)} are kept: Download continues from there." if kept else ""
    raise WeightsError("Could not download the model. " + "; ".join(failures) + "." + resume
                       + " Check the internet connection, or download the file yourself and use Install from File.")


# --------------------------------------------------------------------------- install from file

def install_from_file(source: Path, dest: Path, *, verify: Verifier, accepted_licence: bool,
                      expected_size: Optional[int] = None, sha256: Optional[str] = None,
                      progress: Optional[ProgressFn] = None, cancel: CancelLike = None) -> ModelInfo:
    """Copy a model the user downloaded elsewhere into ``dest``: to a temporary file beside it, verified,
    then renamed, so ``dest`` is never a partial or unchecked file."""
    if not accepted_licence:
        raise WeightsError(LICENCE_MESSAGE)
    source, dest = Path(source).expanduser(), Path(dest)
    if not source.is_file():
        raise WeightsError(f"File not found: {source}. Choose the {MODEL_FILENAME} you downloaded.")
    report = progress or (lambda f, s: None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".incoming", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        total = source.stat().st_size
        done = 0
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            for block in iter(lambda: src.read(4 * CHUNK), b""):
                check_cancel(cancel)
                dst.write(block)
                done += len(block)
                report(PROGRESS_DOWNLOAD * done / max(total, 1),
                       f"Copying: {format_size(done)} of {format_size(total)}")
        shutil.copystat(source, tmp, follow_symlinks=True)
        return _install_verified(tmp, dest, source=str(source), verify=verify, expected_size=expected_size,
                                 sha256=sha256, report=report, cancel=cancel)
    except OSError as err:
        raise WeightsError(f"Could not copy {source} to {dest.parent}: {err}.") from None
    finally:
        _unlink(tmp)
