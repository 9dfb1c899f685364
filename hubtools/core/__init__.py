"""Rules every part shares, each in one place: the manifest model and its one
strict reader, JSON positions, the relative-path policy, file hashing and the
atomic write, the archive registry and safe extraction, and the diff engine.
Nothing here knows about the command line, the network or README layouts."""
