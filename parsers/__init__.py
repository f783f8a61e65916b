"""Ground floor: read captures (perf script text, ftrace text, trace.dat) into event frames.

Nothing here knows about reports or renderers; see ``schema.py`` for what a parser emits.
"""
