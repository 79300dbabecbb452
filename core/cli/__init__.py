"""Command-line entry points: process() for steering scripts, `b2core` for the shell."""
