"""Date and time formats of the console and the admin (``FORMAT_MODULE_PATH``).

One way to write a moment everywhere, as ``crmhub.core.times`` does: in the reader's zone,
with the zone's name ("2026-03-04 14:05:07 CET").
"""
