"""Staff users browsing and searching the console, each in a thread with its own session.

Every request is timed from the client's side and classified: a page served (2xx/3xx), or
an error by kind (5xx, another 4xx than an expected 404, a timeout, a refused or reset
connection, a page that mentions "database is locked", a session sent back to sign in).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

QUERIES = (
    "a",
    "jo",
    "mar",
    "smith",
    "acme",
    "example.com",
    "312",
    "o'brien",
    "núñez",
    "globex",
    "zzzz-no-hit",
    "lee",
    "wei",
    "@example.org",
    "(415)",
)
#: Result rows link to a person, or to a lone contact (``ResultRow.href``).
RESULT_LINK = re.compile(r'href="(/(?:people|contacts)/\d+/)"')
LOCKED = "database is locked"
#: Seconds a user waits for a page before giving up (counted as a timeout).
PAGE_TIMEOUT = 60


@dataclass(frozen=True)
class Hit:
    page: str
    status: int
    ms: float
    error: str = ""  # "" for a page served; else the kind of error


def login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=PAGE_TIMEOUT)
    token = session.cookies.get("csrftoken", "")
    answer = session.post(
        f"{base}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=PAGE_TIMEOUT,
    )
    if answer.status_code != 200 or "/login/" in answer.url:
        raise RuntimeError(f"{username} could not sign in ({answer.status_code})")
    return session


def classify(response: requests.Response) -> str:
    """Return the kind of error ``response`` is for a user, or "" for a page served."""
    if LOCKED in response.text:
        return "database is locked"
    if response.status_code >= 500:
        return f"http {response.status_code}"
    if response.status_code == 404:
        return ""  # a person merged or gone since the search listed them: a real answer
    if response.status_code >= 400:
        return f"http {response.status_code}"
    if "/login/" in response.url:
        return "sent back to sign in"
    return ""


@dataclass
class Users:
    """``count`` users looping over dashboard, search, people and actions pages until stopped.

    ``watch`` is a page every user looks at now and then (the bulk act's progress).
    """

    base: str
    username: str
    password: str
    count: int
    watch: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    #: Users whose sign-in ended (signed in or failed): browsing, or never will.
    arrived: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _note(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def get(self, session: requests.Session, page: str, url: str, **headers: str) -> str:
        started = time.monotonic()
        try:
            response = session.get(self.base + url, headers=headers, timeout=PAGE_TIMEOUT)
        except requests.Timeout:
            self._note(Hit(page, 0, (time.monotonic() - started) * 1000, "timeout"))
            return ""
        except requests.RequestException as exc:
            self._note(Hit(page, 0, (time.monotonic() - started) * 1000, type(exc).__name__))
            return ""
        elapsed = (time.monotonic() - started) * 1000
        self._note(Hit(page, response.status_code, elapsed, classify(response)))
        return response.text

    def _loop(self, seed: int) -> None:
        rng = random.Random(seed)
        # Users sign in one after the other over a few seconds, as people arrive.
        if self._stop.wait(seed * 0.15):
            return
        started = time.monotonic()
        try:
            session = login(self.base, self.username, self.password)
        except (requests.RequestException, RuntimeError) as exc:
            self._note(Hit("login", 0, (time.monotonic() - started) * 1000, str(exc)[:80]))
            return
        finally:
            self.arrived.release()
        links: list[str] = []
        while not self._stop.is_set():
            roll = rng.random()
            if roll < 0.10:
                self.get(session, "dashboard", "/")
            elif roll < 0.20:
                self.get(session, "search page", f"/contacts/?q={rng.choice(QUERIES)}")
            elif roll < 0.65 or not links:
                # Typing in the search box: htmx asks for the results partial.
                text = self.get(
                    session,
                    "search",
                    f"/contacts/?q={rng.choice(QUERIES)}",
                    **{"HX-Request": "true", "HX-Target": "contact-results"},
                )
                links = RESULT_LINK.findall(text) or links
            elif roll < 0.90:
                self.get(session, "person", rng.choice(links))
            elif roll < 0.95 or not self.watch:
                self.get(session, "actions", "/actions/")
            else:
                self.get(session, "batch", rng.choice(self.watch))
            self._stop.wait(rng.uniform(0.2, 0.8))

    def start(self) -> None:
        for index in range(self.count):
            thread = threading.Thread(
                target=self._loop, args=(index,), name=f"user-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wait_arrived(self, timeout: float) -> bool:
        """Wait until every user's sign-in has ended; return whether they all did in time."""
        deadline = time.monotonic() + timeout
        return all(
            self.arrived.acquire(timeout=max(0.0, deadline - time.monotonic()))
            for _ in range(self.count)
        )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=PAGE_TIMEOUT + 10)

    # -- figures -----------------------------------------------------------------------------
    def served(self) -> list[Hit]:
        return [hit for hit in self.hits if not hit.error]

    def errors(self) -> Counter[str]:
        return Counter(hit.error for hit in self.hits if hit.error)

    def by_page(self) -> Counter[str]:
        return Counter(hit.page for hit in self.hits)
