"""Holding Ctrl-C and SIGTERM off for a step that must not be cut in half."""

from __future__ import annotations

import os
import signal

import pytest

from gwasflow.engine.signals import interrupts_deferred, sigterm_as_interrupt


def test_interrupts_deferred__sigint_inside_is_raised_on_leaving() -> None:
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("after the signal")  # the block runs to its end
        steps.append("never")
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is back


def test_interrupts_deferred__sigterm_acts_as_its_outer_handler_says() -> None:
    with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
        pytest.fail("the held SIGTERM was not delivered")


def test_interrupts_deferred__without_redeliver_the_signal_is_dropped() -> None:
    with interrupts_deferred(redeliver=False):
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
