"""Collect! Credit and Collection Software: self-hosted REST API plus a prompt Web Socket."""

from __future__ import annotations
