"""Email delivery: composing digests (compose), signed links (tokens) and sending them (mailer)."""
