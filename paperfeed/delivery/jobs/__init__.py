"""The worker and the scheduled steps it runs: following sources (harvest) and the digest job
(compose, then send exactly once per period)."""
