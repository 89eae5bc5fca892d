"""Email: composing messages (compose), signed links (tokens), verification mail and the mailers."""
