"""Output formatting: pure functions that turn what the library returns into
the lines and JSON documents the CLI prints. Nothing here prints, reads
files, or imports click."""
