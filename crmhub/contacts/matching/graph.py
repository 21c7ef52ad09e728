"""The links between contacts, applied in one order under the rule's checks.

A union-find over contact ids. Links are applied in one order — staff joins, then email
keys, then phone keys, each sorted — and each may be refused: by a staff split (two
records declared not the same person never end up in one group) or, for a phone, by
emails that disagree (``rule.emails_disagree``). So whatever set of contacts is matched,
a component is always cut the same way: the full and the incremental matching agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from crmhub.contacts.matching.rule import PHONE, emails_disagree


class Graph:
    """Contacts being placed, the groups their links make, and why each was linked."""

    def __init__(self, cannot: Mapping[int, frozenset[int]] | None = None) -> None:
        #: Every contact whose person is recomputed -> (current person, current matched_by).
        self.scope: dict[int, tuple[int | None, str]] = {}
        self.parent: dict[int, int] = {}
        self._size: dict[int, int] = {}
        #: Root -> the real emails of its group (groups without any have no entry).
        self._emails: dict[int, frozenset[str]] = {}
        #: Root -> the contacts its group may not be joined with (staff splits).
        self._banned: dict[int, set[int]] = {}
        self._cannot = cannot or {}
        self.evidence: dict[int, set[str]] = defaultdict(set)

    def add(self, contact_id: int, emails: frozenset[str]) -> None:
        """Add a live contact (with its real emails) as a group of its own, once."""
        if contact_id in self.parent:
            return
        self.parent[contact_id] = contact_id
        self._size[contact_id] = 1
        if emails:
            self._emails[contact_id] = emails
        if contact_id in self._cannot:
            self._banned[contact_id] = set(self._cannot[contact_id])

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def _refused(self, first: int, second: int, kind: str) -> bool:
        if kind == PHONE and emails_disagree(self._emails.get(first), self._emails.get(second)):
            return True
        for root, other in ((first, second), (second, first)):
            banned = self._banned.get(root)
            if banned and any(self.find(c) == other for c in banned if c in self.parent):
                return True
        return False

    def link(self, first: int, second: int, label: str) -> bool:
        """Put two added contacts in one group unless the rule refuses; return whether
        they are together. ``label`` ("email:…", "phone:…", "staff:…") is their evidence."""
        a, b = self.find(first), self.find(second)
        if a != b:
            if self._refused(a, b, label.split(":", 1)[0]):
                return False
            if self._size[a] < self._size[b]:
                a, b = b, a
            self.parent[b] = a
            self._size[a] += self._size.pop(b)
            if b in self._emails:
                self._emails[a] = self._emails.get(a, frozenset()) | self._emails.pop(b)
            if b in self._banned:
                self._banned.setdefault(a, set()).update(self._banned.pop(b))
        self.evidence[first].add(label)
        self.evidence[second].add(label)
        return True

    def link_key(self, label: str, members: Sequence[int]) -> None:
        """Link the holders of one identifying key (sorted ids): each joins the first
        earlier holder the rule lets it join."""
        for index in range(1, len(members)):
            for earlier in members[:index]:
                if self.link(earlier, members[index], label):
                    break

    def components(self) -> list[list[int]]:
        """Return the groups of two contacts or more, each sorted."""
        groups: dict[int, list[int]] = defaultdict(list)
        for contact_id in list(self.parent):
            groups[self.find(contact_id)].append(contact_id)
        return [sorted(members) for members in groups.values() if len(members) > 1]
