"""Apptivo: customers over its query-string JSON API (``customers?a=<action>``)."""

from __future__ import annotations
