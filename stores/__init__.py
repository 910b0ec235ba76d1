"""The project's own stores for Rasa 3.6 (named by module path in endpoints.yml) and their checks.

- `lock_store`: lock stores that process the messages of one conversation one at a time, in the
  order they arrived, and wake the next message as soon as the previous one is done (no polling):
  `InProcessLockStore` for one Rasa server (scripts/run.sh), `AtomicRedisLockStore` for several
  servers sharing Redis (the scale-out profile; Rasa's stock RedisLockStore loses messages there).
- `tracker_store`: Rasa's SQL tracker store without its silent fallbacks when the database is
  unreachable.
- `checks`, `readiness`: whether the tracker store and the lock store answer, and the readiness
  endpoint built on that.
"""
