"""The any-event engine: typed fields, --where, pairs (start -> end per key), hist() and count()."""
