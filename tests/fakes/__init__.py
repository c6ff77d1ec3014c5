"""Test doubles that stand in for the outside world (never imported by production code)."""
