"""Take the README's screenshots of the Airflow UI, from a real browser, on loopback only.

Why a script: the screenshots show what a user of Airflow 3.3 really sees (the two
connection forms, the Test icon on a saved connection's row and its result), so they must
be taken again whenever the forms, the test messages or the pinned Airflow change, and a
person should not have to click through the UI to do it.

What it does, all on ``127.0.0.1`` and in a temporary ``AIRFLOW_HOME`` that it removes:

1. installs headless Chromium and its driver from Debian's packages (``chromium``,
   ``chromium-driver``) and ``selenium`` from PyPI when they are missing;
2. ``airflow db migrate``, then starts the provider's stand-in
   (``python -m airflow_provider_tiktok.testing``) and ``airflow api-server`` with
   ``[core] test_connection`` enabled and every user an admin (loopback only);
3. photographs the UI's Add Connection form of each type (its standard fields, with their
   labels and placeholders), then fills it in and saves, as a user would;
4. clicks the row's Test icon: Airflow 3.3 answers "Bad Request" for a connection without a
   port (the UI sends port 0); the script photographs that, gives both connections a port
   through the REST API (the README's workaround; the hooks ignore the port), tests again
   and photographs the success;
5. runs a one-user DAG with ``airflow dags test`` and photographs its task instance's Details
   tab, where the "TikTok profile" extra link sits;
6. stops every process it started, the browser included.

Run it with ``make screenshots`` (or ``.venv/bin/python docs/screenshots.py``). The PNGs
are written to ``docs/`` unless ``--out`` says otherwise. It exits non-zero, naming the
step, if the UI does not show what the README says it shows.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
STARTUP_TIMEOUT = 180.0
UI_TIMEOUT = 30.0
# The port the workaround stores; the provider's hooks build their URLs from the host alone.
WORKAROUND_PORT = 443
MAX_PNG_BYTES = 300_000

FORM_SHOTS = {
    "ensembledata_default": ("EnsembleData", "connection-form-ensembledata.png"),
    "tiktok_research_default": ("TikTok Research API", "connection-form-tiktok-research.png"),
}
BAD_REQUEST_SHOT = "connection-test-bad-request.png"
SUCCESS_SHOT = "connection-test-success.png"
EXTRA_LINK_SHOT = "task-details-extra-link.png"

# A task that fetches exactly one user, so that it offers the "TikTok profile" extra link.
LINK_DAG_ID = "tiktok_profile_link"
LINK_TASK_ID = "fetch_one_user"
LINK_USERNAME = "khaby.lame"
LINK_DAG = f"""
import datetime as dt

from airflow.sdk import DAG

from airflow_provider_tiktok.operators.user_info import EnsembleDataUserInfoOperator

with DAG(
    dag_id="{LINK_DAG_ID}",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
):
    EnsembleDataUserInfoOperator(task_id="{LINK_TASK_ID}", usernames="@{LINK_USERNAME}")
"""


def ensure_tools() -> None:
    """Install Chromium, its driver and selenium when any of them is missing."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        print("Installing chromium and chromium-driver from Debian's packages", flush=True)
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=apt_env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
            check=True,
            env=apt_env,
            stdout=subprocess.DEVNULL,
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        print("Installing selenium", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "selenium"], check=True)


def free_port() -> int:
    """A port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


class Processes:
    """The processes this script started, each in its own session, stopped by process group."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def log_tail(self, name: str, lines: int = 30) -> str:
        text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def wait_for(what: str, check: Any, timeout: float = STARTUP_TIMEOUT) -> Any:
    """Poll ``check()`` until it returns something truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def http_json(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    """One JSON request to the loopback api-server."""
    assert url.startswith(f"http://{LOOPBACK}:"), url
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def api_server_answers(base_url: str) -> bool:
    try:
        return bool(http_json("GET", f"{base_url}/api/v2/version").get("version"))
    except (OSError, urllib.error.URLError, ValueError):
        return False


@dataclasses.dataclass(frozen=True)
class Deployment:
    """The throwaway Airflow: its UI's URL, the stand-in's ready file, the shared environment."""

    base_url: str
    stand_in: dict[str, Any]
    env: dict[str, str]


@contextlib.contextmanager
def airflow_with_stand_in(workdir: Path) -> Iterator[Deployment]:
    """A throwaway api-server and stand-in, with the one-user DAG in its DAGs folder."""
    home = workdir / "airflow-home"
    home.mkdir()
    dags = workdir / "dags"
    dags.mkdir()
    (dags / f"{LINK_DAG_ID}.py").write_text(LINK_DAG)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
    }
    for name in [name for name in env if name.startswith("AIRFLOW_CONN_")]:
        del env[name]  # only the connections made through the UI below
    print("airflow db migrate", flush=True)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    processes = Processes(workdir)
    try:
        ready_file = workdir / "stand-in.json"
        processes.start(
            "stand-in",
            [
                sys.executable,
                "-m",
                "airflow_provider_tiktok.testing",
                "--port",
                "0",
                "--ready-file",
                str(ready_file),
            ],
            env,
        )
        wait_for("the stand-in", ready_file.exists)
        stand_in = json.loads(ready_file.read_text())
        port = free_port()
        base_url = f"http://{LOOPBACK}:{port}"
        print(f"airflow api-server on {base_url}", flush=True)
        api_server = processes.start(
            "api-server",
            [
                sys.executable,
                "-m",
                "airflow",
                "api-server",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
            ],
            env,
        )
        try:
            wait_for(
                "the api-server",
                lambda: api_server.poll() is not None or api_server_answers(base_url),
            )
            if api_server.poll() is not None:
                raise RuntimeError("the api-server exited")
        except RuntimeError:
            print(processes.log_tail("api-server"), file=sys.stderr)
            raise
        yield Deployment(base_url, stand_in, env)
    finally:
        processes.stop_all()


@contextlib.contextmanager
def headless_chromium(height: int) -> Iterator[Any]:
    """Debian's Chromium through its chromedriver; it resolves no name but loopback's."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size=1280,{height}",
        "--no-proxy-server",
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOOPBACK}",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class ConnectionsPage:
    """Admin > Connections of the Airflow 3.3 UI, driven as a user would."""

    def __init__(self, driver: Any, base_url: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.base_url = base_url
        self.wait = WebDriverWait(driver, UI_TIMEOUT)

    def open(self) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.driver.get(f"{self.base_url}/connections")
        self.wait.until(
            ec.element_to_be_clickable((By.XPATH, "//button[contains(., 'Add Connection')]"))
        )

    def add_through_the_form(
        self, conn_id: str, type_label: str, fields: dict[str, str], screenshot: Path
    ) -> None:
        """Photograph the Add Connection form of ``type_label``, then fill it in and save."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support import expected_conditions as ec

        self.open()
        self.driver.find_element(By.XPATH, "//button[contains(., 'Add Connection')]").click()
        dialog = self.wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "[role=dialog]"))
        )
        dialog.find_element(By.NAME, "connection_id").send_keys(conn_id)
        type_box = dialog.find_element(By.CSS_SELECTOR, "input[role=combobox]")
        type_box.send_keys(type_label)
        self.wait.until(
            ec.visibility_of_element_located(
                (By.XPATH, f"//*[@role='option' and normalize-space()='{type_label}']")
            )
        )
        type_box.send_keys(Keys.ENTER)
        password = self.wait.until(lambda _: dialog.find_elements(By.NAME, "password"))[0]
        self.wait.until(lambda _: password.is_displayed())
        time.sleep(0.5)  # let the standard fields finish unfolding before the picture
        dialog.screenshot(str(screenshot))  # empty, so that the placeholders show
        for name, value in fields.items():
            dialog.find_element(By.NAME, name).send_keys(value)
        dialog.find_element(By.XPATH, ".//button[contains(., 'Save')]").click()
        self.wait.until(ec.invisibility_of_element(dialog))
        self.wait.until(lambda _: self._row(conn_id))

    def _row(self, conn_id: str) -> Any:
        from selenium.webdriver.common.by import By

        rows = self.driver.find_elements(
            By.XPATH,
            f"//tr[td[@data-testid='table-cell-connection_id' and text()='{conn_id}']]",
        )
        return rows[0] if rows else None

    def test_from_the_row(self, conn_id: str) -> str:
        """Click the row's Test icon; the result's toast text."""
        from selenium.webdriver.common.by import By

        self.open()
        row = self.wait.until(lambda _: self._row(conn_id))
        row.find_element(By.CSS_SELECTOR, "button[aria-label='Test Connection']").click()
        toast = self.wait.until(
            lambda driver: driver.find_elements(
                By.CSS_SELECTOR, "[data-scope=toast][data-part=root]"
            )
        )[0]
        self.wait.until(lambda _: "Test Connection" in toast.text)
        time.sleep(0.5)  # let the toast finish sliding in before the picture
        text: str = toast.text
        return text


def photograph_the_extra_link(driver: Any, airflow: Deployment, screenshot: Path) -> None:
    """Run the one-user DAG, open its task instance's Details tab, check the link, photograph."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    print(f"airflow dags test {LINK_DAG_ID}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", LINK_DAG_ID],
        env=airflow.env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=STARTUP_TIMEOUT,
    )
    runs = http_json("GET", f"{airflow.base_url}/api/v2/dags/{LINK_DAG_ID}/dagRuns")
    [run] = runs["dag_runs"]
    expect("the one-user DAG run", run["state"], "success")
    run_id = urllib.parse.quote(run["dag_run_id"], safe="")
    driver.get(f"{airflow.base_url}/dags/{LINK_DAG_ID}/runs/{run_id}/tasks/{LINK_TASK_ID}/details")
    link = WebDriverWait(driver, UI_TIMEOUT).until(
        ec.visibility_of_element_located((By.XPATH, "//a[normalize-space()='TikTok profile']"))
    )
    expect("the Details tab's extra link", link.get_attribute("href") or "", f"/@{LINK_USERNAME}")
    time.sleep(0.5)  # let the details table finish rendering before the picture
    driver.save_screenshot(str(screenshot))


def expect(step: str, text: str, wanted: str) -> None:
    if wanted not in text:
        raise RuntimeError(f"{step}: expected {wanted!r} in the UI, got {text!r}")
    print(f"{step}: {' / '.join(text.splitlines())}", flush=True)


def take_screenshots(out: Path) -> list[Path]:
    """Every screenshot of the README, into ``out``; returns their paths."""
    with (
        tempfile.TemporaryDirectory(prefix="tiktok-screenshots-") as tmp,
        airflow_with_stand_in(Path(tmp)) as airflow,
    ):
        base_url = airflow.base_url
        connections = {
            name.removeprefix("AIRFLOW_CONN_").lower(): json.loads(value)
            for name, value in airflow.stand_in["env"].items()
        }
        fields = {
            conn_id: {
                name: str(conn[name]) for name in ("host", "login", "password") if conn.get(name)
            }
            for conn_id, conn in connections.items()
        }
        with headless_chromium(height=1100) as driver:
            page = ConnectionsPage(driver, base_url)
            for conn_id, (type_label, file_name) in FORM_SHOTS.items():
                page.add_through_the_form(conn_id, type_label, fields[conn_id], out / file_name)
                print(f"form of {type_label}: {file_name}", flush=True)
        with headless_chromium(height=520) as driver:
            page = ConnectionsPage(driver, base_url)
            text = page.test_from_the_row("ensembledata_default")
            expect("Test without a port", text, "Bad Request")
            driver.save_screenshot(str(out / BAD_REQUEST_SHOT))
            for conn_id, conn in connections.items():
                http_json(
                    "PATCH",
                    f"{base_url}/api/v2/connections/{conn_id}?update_mask=port",
                    {
                        "connection_id": conn_id,
                        "conn_type": conn["conn_type"],
                        "port": WORKAROUND_PORT,
                    },
                )
            text = page.test_from_the_row("tiktok_research_default")
            expect(f"Test with port {WORKAROUND_PORT}", text, "Test Connection Successful")
            text = page.test_from_the_row("ensembledata_default")
            expect(f"Test with port {WORKAROUND_PORT}", text, "Test Connection Successful")
            driver.save_screenshot(str(out / SUCCESS_SHOT))
        with headless_chromium(height=640) as driver:
            photograph_the_extra_link(driver, airflow, out / EXTRA_LINK_SHOT)
    shots = [out / name for _, name in FORM_SHOTS.values()] + [
        out / BAD_REQUEST_SHOT,
        out / SUCCESS_SHOT,
        out / EXTRA_LINK_SHOT,
    ]
    for shot in shots:
        size = shot.stat().st_size
        if size > MAX_PNG_BYTES:
            raise RuntimeError(f"{shot.name} is {size} bytes, over {MAX_PNG_BYTES}")
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    if shutil.which("airflow", path=str(Path(sys.executable).parent)) is None:
        print("run this with the Python of the project's virtualenv (make screenshots)")
        return 2
    ensure_tools()
    args.out.mkdir(parents=True, exist_ok=True)
    for shot in take_screenshots(args.out):
        print(f"wrote {shot} ({shot.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
