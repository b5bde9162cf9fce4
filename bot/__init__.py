"""Byline's faces: the command line, the terminal chat and (later) Discord. Thin: parse, call the
engine in index/, render."""
