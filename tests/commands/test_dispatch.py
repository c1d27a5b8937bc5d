"""``gwasflow``'s dispatch: every subcommand of the argument tree has its handler in ``gwasflow.commands``."""

from __future__ import annotations

import argparse
import inspect

from gwasflow import cli

OWN_PARSERS = {"regenie", "selftest"}  # dispatched before the argument tree, to their own parsers


def _subcommands() -> set[str]:
    parser = cli._parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_handler__every_subcommand_has_one_and_nothing_else_does() -> None:
    assert set(cli._HANDLERS) == _subcommands() - OWN_PARSERS


def test_handler__each_is_a_function_of_the_commands_layer_taking_the_arguments() -> None:
    for command in cli._HANDLERS:
        handler = cli._handler(command)
        assert handler.__module__.startswith("gwasflow.commands."), (command, handler.__module__)
        assert list(inspect.signature(handler).parameters) == ["args"], command
