"""Tests of gwasflow.engine."""
