"""Staff users browsing and searching the console, each in a thread with its own session."""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass

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
PERSON_LINK = re.compile(r'href="(/people/\d+/)"')


@dataclass(frozen=True)
class Hit:
    page: str
    status: int
    ms: float
    locked: bool


def login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=30)
    token = session.cookies.get("csrftoken", "")
    answer = session.post(
        f"{base}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=30,
    )
    if "/login/" in answer.url:
        raise RuntimeError(f"{username} could not sign in")
    return session


class Users:
    """``count`` users looping over dashboard, search and person pages until stopped."""

    def __init__(self, base: str, username: str, password: str, count: int) -> None:
        self.base = base
        self.username = username
        self.password = password
        self.count = count
        self.hits: list[Hit] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _get(self, session: requests.Session, page: str, url: str, **headers: str) -> str:
        started = time.monotonic()
        try:
            response = session.get(self.base + url, headers=headers, timeout=60)
        except requests.RequestException as exc:
            with self._lock:
                self.errors.append(f"{url}: {type(exc).__name__}")
            return ""
        text = response.text
        hit = Hit(
            page,
            response.status_code,
            (time.monotonic() - started) * 1000,
            "database is locked" in text,
        )
        with self._lock:
            self.hits.append(hit)
        return text

    def _loop(self, seed: int) -> None:
        rng = random.Random(seed)
        session = login(self.base, self.username, self.password)
        people: list[str] = []
        while not self._stop.is_set():
            roll = rng.random()
            if roll < 0.2:
                self._get(session, "dashboard", "/")
            elif roll < 0.75 or not people:
                query = rng.choice(QUERIES)
                text = self._get(
                    session, "search", f"/contacts/?q={query}", **{"HX-Request": "true"}
                )
                people = PERSON_LINK.findall(text) or people
            else:
                self._get(session, "person", rng.choice(people))
            self._stop.wait(rng.uniform(0.2, 0.8))

    def start(self) -> None:
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=70)
