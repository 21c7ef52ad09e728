"""The Celery queues, one per kind of wait, each served by its own pool of workers.

Capacity is separated by what a task waits on (design.md, "Embedded default and scale-out"):
the housekeeping of the outbox and the syncs never queues behind work, a plan waiting for a
person never holds a slot another act needs, and a long sync never delays an act. The
Procfile starts one pool per queue; any deployment does the same (README, "Scaling out").
"""

from __future__ import annotations

#: The sweeper, the sync dispatcher and the reaper: short, frequent, never behind work.
HOUSEKEEPING = "housekeeping"
#: Acts that never wait for a person (and connection checks: one short remote call).
ACTIONS = "actions"
#: Collect! plans that may wait for a person's answer to a prompt.
PROMPTS = "prompts"
#: Contact syncs and full matchings: long, one connection's pass at a time.
SYNC = "sync"
#: Every queue, in the order a single worker serving them all lists them.
ALL = (HOUSEKEEPING, ACTIONS, PROMPTS, SYNC)
