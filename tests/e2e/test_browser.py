"""A real browser on a deployed lab (issue 23): headless Chromium, driven by Selenium through
Debian's chromedriver, goes where a person goes on the first tenant's services.

It opens the landing page and follows each of its links, signs in on the SSO portal, reads in
the webmail a mail a second person sent through submission, signs out of both and opens the
chat page, which says why Element web is not installed, and the drive's, which says why
Nextcloud is not (or Nextcloud's own page when it is), both with their stylesheet. Last, it
opens the HTML report of a live audit of the lab and finds in it, as a reader sees them, the
rules, verdicts and counts of the same audit in JSON.

A screenshot of each step is kept as a PNG, with the audit's report, in
build/test-artifacts/browser/ (SOUVERAIN_TEST_ARTIFACTS moves build/test-artifacts; the path is
printed), emptied when the module starts: CI keeps that directory as the run's artifacts. With
SOUVERAIN_SCREENSHOTS_DIR set (docs/screenshots refreshes the README's), the test also writes
there the two pictures the README shows: portal.png (the sign-in page) and webmail.png (the
inbox with the mail in it).

The lab has no DNS: Chromium's --host-resolver-rules map each of the tenants' names to the
address `souverain info --json` gives it and every other name to nothing, so the browser
names the services as a person's would (TLS SNI, Host header, cookies) and asks no resolver.
The suite's CA is trusted the way a person trusts it, not by ignoring certificate errors: an
NSS database made with certutil (Debian's libnss3-tools) holds it as a CA for websites, in
the browser's own new user-data-dir, which is also Chromium's HOME (Chromium on Linux reads
HOME/.pki/nssdb). A name the suite's certificates lack would end on Chromium's error page and
fail the test. Nothing on this machine is edited.

Every wait is for a condition, bounded by WAIT seconds (WebDriverWait, page-load timeout).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from souverain.audit.report.i18n import labels
from souverain.model.loader import load_suite
from souverain.model.services import tenant_services
from tests.e2e.conftest import (
    RunningLab,
    artifacts,
    skip_or_fail,
    souverain,
    whole_suite_deployed,
)
from tests.e2e.test_mail import Endpoints, imaps, smtp

pytestmark = pytest.mark.lab

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 30  # seconds a page, a form or a mail may take
WINDOW = "1280,800"  # pixels: Roundcube's widest layout, and pictures small enough to commit
READER, WRITER = "iris", "hugo"  # people of this module only: other modules keep theirs
# The README's pictures, by the step that takes them: SOUVERAIN_SCREENSHOTS_DIR/<name>.png.
README_SHOTS = {"portal-sign-in": "portal", "webmail-inbox": "webmail"}


@dataclass(frozen=True)
class Tenant:
    """The first tenant, as `souverain info --json` describes it, and the lab it lives on."""

    lab: RunningLab
    id: str
    domain: str
    services: list[dict[str, Any]]
    names: dict[str, str]  # every tenant's names: fqdn -> the address it resolves to

    def service(self, role: str) -> dict[str, Any]:
        return next(service for service in self.services if service["role"] == role)

    def url(self, role: str) -> str:
        return self.service(role)["url"]


@pytest.fixture(scope="module")
def tenant(lab_session: RunningLab) -> Tenant:
    """The first tenant of the session lab with the whole suite deployed."""
    whole_suite_deployed(lab_session)
    result = souverain("-C", str(lab_session.directory), "info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    names = {
        service["fqdn"]: service["address"]
        for each in info["tenants"]
        for service in each["services"]
    }
    first = info["tenants"][0]
    return Tenant(lab_session, first["id"], first["domain"], first["services"], names)


@pytest.fixture(scope="module")
def people(tenant: Tenant) -> dict[str, tuple[str, str]]:
    """Two people of the tenant: uid -> (address, password). Removed first, for re-runs."""
    made = {}
    for uid in (READER, WRITER):
        souverain("-C", str(tenant.lab.directory), "user", "remove", "--tenant", tenant.id, uid)
        result = souverain(
            "-C", str(tenant.lab.directory), "user", "add", "--tenant", tenant.id, uid,
            "--given-name", uid.capitalize(), "--surname", "Browser",
            "--email", f"{uid}@{tenant.domain}", "--generate", "--json",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        made[uid] = (f"{uid}@{tenant.domain}", json.loads(result.stdout)["password"])
    return made


class Browser:
    """A Chromium session and the numbered screenshots of its steps."""

    def __init__(self, driver: Any, shots: Path, readme: Path | None = None) -> None:
        self.driver = driver
        self.shots = shots
        self.readme = readme  # where the README's pictures go, when they are to be refreshed
        self.taken = 0

    def wait(self, condition: Callable[[Any], Any], what: str, timeout: float = WAIT) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.5).until(
            condition, f"{what} (waited {timeout} s on {self.driver.current_url})"
        )

    def open(self, url: str) -> None:
        """Load `url` and check the page came from its name over trusted TLS."""
        self.driver.get(url)
        reached = self.driver.current_url
        assert not reached.startswith("chrome-error:"), f"{url}: {self.driver.title}"
        assert urlparse(reached).hostname == urlparse(url).hostname, (url, reached)
        assert self.driver.title != "Privacy error", f"{url}: the suite CA is not trusted"

    def shot(self, step: str) -> Path:
        self.taken += 1
        path = self.shots / f"{self.taken:02d}-{step}.png"
        assert self.driver.save_screenshot(str(path)), path
        if self.readme is not None and step in README_SHOTS:
            shutil.copyfile(path, self.readme / f"{README_SHOTS[step]}.png")
        return path

    def documents(self) -> list[str]:
        """The pages (top-level documents) requested since the last call, redirects included,
        from Chromium's performance log."""
        requested = []
        for entry in self.driver.get_log("performance"):
            event = json.loads(entry["message"])["message"]
            if event["method"] == "Network.requestWillBeSent" and (
                event["params"].get("type") == "Document"
            ):
                requested.append(event["params"]["request"]["url"])
        return requested

    def status(self, url: str) -> int | None:
        """The HTTP status of the last page answered for `url` since the log was last read,
        from Chromium's performance log (which this reads, as documents() does)."""
        found = None
        for entry in self.driver.get_log("performance"):
            event = json.loads(entry["message"])["message"]
            if event["method"] == "Network.responseReceived" and (
                event["params"].get("type") == "Document"
                and event["params"]["response"]["url"] == url
            ):
                found = event["params"]["response"]["status"]
        return found

    def assert_styled(self) -> None:
        """Each stylesheet the page links to was loaded and has rules (one answered by an
        error page is no sheet for the browser)."""
        sheets = self.driver.execute_script(
            "return [...document.querySelectorAll('link[rel=stylesheet]')]"
            ".map(l => [l.href, l.sheet ? l.sheet.cssRules.length : 0])"
        )
        assert sheets and all(rules for _, rules in sheets), (self.driver.current_url, sheets)

    def text(self) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.TAG_NAME, "body").text


def nss_database(home: Path, ca: Path) -> None:
    """Chromium's NSS database under `home`, holding the suite CA as trusted for websites."""
    certutil = shutil.which("certutil")
    if certutil is None:
        skip_or_fail("missing certutil (apt-get install libnss3-tools)")
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True)
    for argv in (
        ["-N", "--empty-password"],
        ["-A", "-n", "souverain suite CA", "-t", "C,,", "-i", str(ca)],
    ):
        made = subprocess.run([certutil, "-d", f"sql:{database}", *argv],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr


@pytest.fixture(scope="module")
def browser(tenant: Tenant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    for program, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not program.exists():
            skip_or_fail(f"missing {program} (apt-get install {package})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium")  # new and empty: the user-data-dir and HOME
    nss_database(profile, tenant.lab.directory / "pki" / "ca.crt")
    rules = [f"MAP {name} {address}" for name, address in sorted(tenant.names.items())]
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    for argument in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-proxy-server", f"--window-size={WINDOW}", "--lang=en-US",
        f"--user-data-dir={profile}",
        f"--host-resolver-rules={', '.join([*rules, 'MAP * ~NOTFOUND'])}",
    ):  # fmt: skip
        options.add_argument(argument)
    # The driver's path is given: Selenium Manager neither looks for one nor downloads one.
    service = Service(str(CHROMEDRIVER), env={**os.environ, "HOME": str(profile)})
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    shots = artifacts("browser")
    print(f"browser: screenshots in {shots}")
    readme = os.environ.get("SOUVERAIN_SCREENSHOTS_DIR")
    if readme:
        Path(readme).mkdir(parents=True, exist_ok=True)
        print(f"browser: the README's pictures in {readme}")
    try:
        yield Browser(driver, shots, Path(readme) if readme else None)
    finally:
        driver.quit()


def test_the_landing_page_lists_the_services_and_its_links_lead_to_them(browser, tenant):
    from selenium.webdriver.common.by import By

    browser.open(tenant.url("landing"))
    browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.services a"), "the service list")
    browser.shot("landing")
    browser.assert_styled()
    suite = load_suite(tenant.lab.directory / "suite.yml")
    [model] = [each for each in suite.tenants if each.id == tenant.id]
    web = {
        service.url: (service.label or f"{service.component} {service.role}", service.fqdn)
        for service in tenant_services(suite, model)
        if service.scheme == "https" and service.component != "proxy"
    }
    listed = {
        item.find_element(By.TAG_NAME, "a").get_attribute("href"): (
            item.find_element(By.TAG_NAME, "a").text,
            item.find_element(By.CSS_SELECTOR, "span.name").text,
        )
        for item in browser.driver.find_elements(By.CSS_SELECTOR, "ul.services li")
    }
    assert listed == web
    clients = {s["fqdn"] for s in tenant.services if not s["url"].startswith("https://")}
    table = browser.driver.find_element(By.TAG_NAME, "table").text
    assert clients and all(name in table for name in clients), table
    names = set(tenant.names)
    for url in sorted(listed):
        browser.open(tenant.url("landing"))
        link = browser.wait(lambda d, url=url: d.find_element(By.CSS_SELECTOR, f'a[href="{url}"]'),
                            f"the link to {url}")  # fmt: skip
        browser.documents()  # forget the landing page's own
        link.click()
        browser.wait(lambda d, url=url: d.current_url != tenant.url("landing")
                     and d.execute_script("return document.readyState") == "complete",
                     f"the page of {url}")  # fmt: skip
        # The click reached the link's name first; a name may send the browser on (the
        # homeserver's root sends it to the chat page), never outside the tenant's names.
        chain = [urlparse(document).hostname for document in browser.documents()]
        reached = urlparse(browser.driver.current_url).hostname
        assert chain and chain[0] == urlparse(url).hostname and chain[-1] == reached, (url, chain)
        assert set(chain) <= names, (url, chain)
        assert browser.driver.title != "Privacy error", f"{url}: the suite CA is not trusted"
        browser.shot(f"link-{urlparse(url).hostname}")


def send_mail(browser: Browser, tenant: Tenant, people: dict[str, tuple[str, str]],
              subject: str, body: str) -> None:  # fmt: skip
    """The writer sends the reader a mail through submission (587, STARTTLS, AUTH), then
    waits until it is in the reader's INBOX (IMAPS): the webmail lists it when it loads."""
    endpoints = Endpoints(tenant.lab)
    sender, password = people[WRITER]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = people[READER][0]
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=tenant.domain)
    message.set_content(body)
    client = smtp(endpoints, 587)
    client.starttls(context=endpoints.tls)
    client.ehlo("client.lab.test")
    client.login(sender, password)
    client.send_message(message)
    client.quit()
    address, password = people[READER]

    def delivered(_: Any) -> bool:
        reader = imaps(endpoints)
        try:
            reader.login(address, password)
            reader.select("INBOX", readonly=True)
            _, found = reader.search(None, "HEADER", "Message-ID", message["Message-ID"])
            return bool(found[0].split())
        finally:
            reader.logout()

    browser.wait(delivered, f"{message['Message-ID']} in {address}'s INBOX")


SIGNED_IN = 'a[href="#logout"]'  # the portal's Logout tab, on its page once signed in


def portal_sign_in(browser: Browser, tenant: Tenant, uid: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    browser.open(tenant.url("portal"))
    user = browser.wait(lambda d: d.find_element(By.NAME, "user"), "the portal's sign-in form")
    browser.shot("portal-sign-in")
    user.send_keys(uid)
    browser.driver.find_element(By.NAME, "password").send_keys(password)
    browser.driver.find_element(By.CSS_SELECTOR, "#lform button[type=submit]").click()
    browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, SIGNED_IN), "the signed-in page")
    browser.shot("portal-signed-in")
    assert not browser.driver.find_elements(By.NAME, "user")
    assert f"Connected as {uid}" in browser.text(), browser.text()
    # The menu lists the tenant's applications (those the manifests publish with menu: true).
    from souverain.model.components import CATALOG

    labels = {
        (component.name, endpoint.role): endpoint.label
        for component in CATALOG
        for endpoint in component.manifest.endpoints
        if endpoint.menu
    }
    menu = [labels[key] for s in tenant.services if (key := (s["component"], s["role"])) in labels]
    assert "Webmail" in menu
    for label in menu:
        assert label in browser.text(), f"{label} is not in the portal's menu"


def portal_sign_out(browser: Browser, tenant: Tenant) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser.open(tenant.url("portal"))
    tab = browser.wait(lambda d: d.find_element(By.CSS_SELECTOR, SIGNED_IN), "still signed in")
    tab.click()
    sure = browser.wait(ec.element_to_be_clickable((By.CSS_SELECTOR, 'a[href$="?logout=1"]')),
                        "the portal's 'I'm sure'")  # fmt: skip
    sure.click()
    browser.wait(lambda d: "You have been disconnected" in browser.text(), "the portal's goodbye")
    browser.shot("portal-signed-out")
    browser.driver.find_element(By.LINK_TEXT, "Go to portal").click()
    browser.wait(lambda d: d.find_elements(By.NAME, "user"), "the sign-in form, signed out")
    assert not browser.driver.find_elements(By.CSS_SELECTOR, SIGNED_IN)


def webmail_read(browser: Browser, tenant: Tenant, address: str, password: str,
                 subject: str, body: str) -> None:  # fmt: skip
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.open(tenant.url("webmail"))
    user = browser.wait(lambda d: d.find_element(By.NAME, "_user"), "Roundcube's login form")
    browser.shot("webmail-login")
    user.send_keys(address)
    browser.driver.find_element(By.NAME, "_pass").send_keys(password)
    browser.driver.find_element(By.CSS_SELECTOR, "#rcmloginsubmit").click()
    browser.wait(lambda d: d.find_elements(By.ID, "messagelist"), "the inbox after login")
    row = browser.wait(
        lambda d: d.find_element(By.XPATH, "//table[@id='messagelist']//tr"
                                 f"[.//*[contains(text(), '{subject}')]]"),
        f"the mail '{subject}' in the inbox",
    )  # fmt: skip
    browser.shot("webmail-inbox")
    ActionChains(browser.driver).double_click(row).perform()
    browser.wait(lambda d: body.splitlines()[0] in browser.text(), "the mail's body")
    browser.shot("webmail-mail")
    assert subject in browser.text()


def webmail_sign_out(browser: Browser) -> None:
    from selenium.webdriver.common.by import By

    browser.driver.find_element(By.CSS_SELECTOR, "a.logout").click()
    browser.wait(lambda d: d.find_elements(By.NAME, "_user"), "Roundcube's login form again")
    browser.shot("webmail-signed-out")


def test_a_person_signs_in_reads_a_mail_and_signs_out(browser, tenant, people):
    from selenium.webdriver.common.by import By

    token = uuid.uuid4().hex[:8]
    subject = f"Browser test {token}"
    body = f"Bonjour Iris, ce message {token} vient de Hugo.\nA bientot.\n"
    send_mail(browser, tenant, people, subject, body)
    address, password = people[READER]
    portal_sign_in(browser, tenant, READER, password)
    webmail_read(browser, tenant, address, password, subject, body)
    webmail_sign_out(browser)
    portal_sign_out(browser, tenant)
    # Signed out of the webmail too: its page asks for a login again.
    browser.open(tenant.url("webmail"))
    browser.wait(lambda d: d.find_elements(By.NAME, "_user"), "Roundcube's login form")
    assert not browser.driver.find_elements(By.ID, "messagelist")


def test_the_chat_page_says_why_element_is_not_installed(browser, tenant):
    from selenium.webdriver.common.by import By

    browser.open(tenant.url("element"))
    heading = browser.wait(lambda d: d.find_element(By.TAG_NAME, "h1"), "the chat page")
    browser.shot("chat")
    assert heading.text == "Element web is not installed"
    browser.assert_styled()
    assert tenant.url("homeserver").rstrip("/") in browser.text(), browser.text()
    assert "artifacts.element" in browser.text()


def test_the_files_page_says_why_nextcloud_is_not_installed(browser, tenant):
    from selenium.webdriver.common.by import By

    if not any(service["role"] == "files" for service in tenant.services):
        pytest.skip("this suite places no drive")
    url = tenant.url("files")
    browser.status(url)  # forget earlier pages
    browser.open(url)
    heading = browser.wait(lambda d: d.find_element(By.TAG_NAME, "h1"), "the files page")
    browser.shot("files")
    if heading.text != "Files are not available yet":
        # The archive was supplied: Nextcloud answers, with its own page.
        assert "Nextcloud" in browser.driver.title, (heading.text, browser.driver.title)
        return
    assert browser.status(url) == 503  # unavailable for now, not an error of the person's
    browser.assert_styled()
    text = browser.text()
    assert "Nothing is wrong with your account" in text, text
    assert "artifacts.nextcloud" in text and "supply the archive and deploy again" in text, text


def audit_report(lab: RunningLab, shots: Path) -> tuple[int, Path, dict[str, Any]]:
    """A live audit of the lab, as HTML (kept with the screenshots) and as JSON; its exit
    status. The independent scanners are left out: their minutes add nothing to the page."""
    page = shots / "audit-report.html"
    common = ["--live", "--no-scanner", "all", "--lang", "en", "--fail-on", "high"]
    started = time.monotonic()
    made = souverain("-C", str(lab.directory), "audit", *common, "--format", "html",
                     "--output", str(page), timeout=900)  # fmt: skip
    assert made.returncode in (0, 1), made.stdout + made.stderr
    again = souverain("-C", str(lab.directory), "audit", *common, "--format", "json",
                      "--no-render", timeout=900)  # fmt: skip
    assert again.returncode == made.returncode, again.stdout[-4000:] + again.stderr
    print(f"browser: two live audits {time.monotonic() - started:.0f} s, report in {page}")
    return made.returncode, page, json.loads(again.stdout)


def test_the_audit_report_shows_each_rule_and_its_verdict(browser, tenant):
    from selenium.webdriver.common.by import By

    status, page, report = audit_report(tenant.lab, browser.shots)
    words = labels("en")
    browser.open(page.as_uri())
    heading = browser.wait(lambda d: d.find_element(By.TAG_NAME, "h1"), "the report's title")
    browser.shot("audit-report")
    title = f"{words['title']} — {report['suite']}"
    assert browser.driver.title == title and heading.text == title, (browser.driver.title,)
    assert heading.is_displayed()
    assert words["live"] in browser.text() and "aligned with" in browser.text()
    outcome = browser.driver.find_element(By.ID, "outcome")
    assert outcome.is_displayed()
    assert ("ok" if status == 0 else "bad") in outcome.get_attribute("class").split()
    # Every rule of the JSON report, once, with its title and the word of its verdict; a
    # failed rule is open on its evidence, the others closed on their one line.
    rules = browser.driver.find_elements(By.CSS_SELECTOR, "details.rule")
    shown = [element.get_attribute("id") for element in rules]
    assert shown and sorted(shown) == sorted(f["id"] for f in report["findings"])
    for finding in report["findings"]:
        rule = browser.driver.find_element(By.ID, finding["id"])
        summary = rule.find_element(By.TAG_NAME, "summary")
        assert summary.is_displayed()
        assert summary.find_element(By.TAG_NAME, "strong").text == finding["id"]
        assert finding["title"] in summary.text, (finding["id"], summary.text)
        badge = summary.find_element(By.CSS_SELECTOR, ".badge")
        assert badge.text == words[finding["verdict"]], (finding["id"], badge.text)
        opened = rule.get_attribute("open") is not None
        assert opened == (finding["verdict"] == "fail"), finding["id"]
    # The summary table counts what the rules say.
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "#summary tbody tr")
    for row, severity in zip(rows, ("high", "medium", "low"), strict=True):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        counts = report["summary"][severity]
        assert cells == [str(n) for n in counts.values()] + [str(sum(counts.values()))], cells
    failing = [f for f in report["findings"] if f["verdict"] == "fail"]
    if failing:  # the first failure, scrolled to, with its evidence
        rule = browser.driver.find_element(By.ID, failing[0]["id"])
        browser.driver.execute_script("arguments[0].scrollIntoView()", rule)
        assert rule.find_element(By.TAG_NAME, "dl").is_displayed()
        browser.shot("audit-report-failure")
