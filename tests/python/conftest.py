"""Starts a private `orchestrator serve` for the Python client tests."""
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _binary():
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "debug" / "orchestrator"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build --workspace --bins` first")
    return path


@pytest.fixture(scope="session")
def kubeconfig():
    with tempfile.TemporaryDirectory(prefix="regatta-py-") as d:
        log = open(os.path.join(d, "orchestrator.log"), "wb")
        proc = subprocess.Popen(
            [str(_binary()), "serve", "--data-dir", d, "--api-listen", "127.0.0.1:0",
             "--node-listen", "127.0.0.1:0", "--cluster-name", "py"],
            stdout=subprocess.DEVNULL, stderr=log,
        )
        kc = os.path.join(d, "kubeconfig")
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail("orchestrator exited: " + open(log.name).read())
            if os.path.exists(kc):
                r = subprocess.run(["kubectl", "get", "--raw", "/readyz"],
                                   env={**os.environ, "KUBECONFIG": kc},
                                   capture_output=True)
                if r.returncode == 0 and r.stdout == b"ok":
                    break
            if time.monotonic() > deadline:
                pytest.fail("orchestrator never became ready: " + open(log.name).read())
            time.sleep(0.05)
        try:
            yield kc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
