"""Exports of a run plan to other workflow systems (AWS Step Functions)."""
