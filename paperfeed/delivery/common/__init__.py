"""What every adapter and use case shares: the context (settings + store), logging, progress bars,
the secret key, comment Markdown and the SVG charts."""
