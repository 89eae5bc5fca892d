"""Delivery layer: CLI, web, email, feeds, and the jobs that drive the flow."""
