"""The `paperfeed` command: thin click commands, one module per group, over the use cases."""
