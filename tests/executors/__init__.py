"""Tests of gwasflow.executors."""
