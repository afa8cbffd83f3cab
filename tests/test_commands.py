"""Every ``guichet`` command the README, the plugin guide and the scaffold show is one
the command line takes, options included: each is parsed by the real command line
(with sample values for its placeholders, answering its prompts), so a documented
option that does not exist fails here, not in an operator's terminal. A command named
in a sentence (`guichet token create`) must exist; a command line in a code block
must parse whole. The commands that change something are run for real by the other
tests (``test_cli``, ``test_scaffold``...)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from core.cli import main

ROOT = Path(__file__).parents[1]
SOURCES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "core" / "scaffold" / "template").rglob("*.tmpl")),
    ROOT / "examples" / "tickets" / "README.md",
]
# What the documents write for the values a reader chooses.
PLACEHOLDERS = {
    **dict.fromkeys(("ORG_ID", "PAYMENT_ID", "AMOUNT"), "1"),
    **dict.fromkeys(("APP", "KEY"), "invoices"),
    **dict.fromkeys(("NAME", "$key"), "hello"),
    "CODE": "00002501",
    "EMAIL": "camille@client1.example.com",
    "FILE": str(ROOT / "README.md"),
    "TEXT": "why",
}
INLINE = re.compile(r"`((?:\.venv/bin/)?guichet [^`]+)`")
BLOCK = re.compile(r"```(?:sh|console|bash)\n(.*?)```", re.S)


def documented_commands() -> list[tuple[str, str, bool]]:
    """(source, command line, whether it is a whole command line of a code block)."""
    found = set()
    for source in SOURCES:
        text, name = source.read_text(), source.relative_to(ROOT).as_posix()
        found |= {(name, m.group(1), False) for m in INLINE.finditer(text)}
        for block in BLOCK.findall(text):
            for line in block.splitlines():
                if re.match(r"(\.venv/bin/)?guichet ", line):
                    found.add((name, line.split("  #")[0].split(" && ")[0].strip(), True))
    return sorted(line for line in found if line[1] != "guichet …")  # "guichet … commands"


def words_of(line: str) -> list[str]:
    words = shlex.split(line.replace("…", "why"))
    return [PLACEHOLDERS.get(word, word) for word in words[1:]]


def parse(app, words: list[str]) -> click.Command:
    """The command ``words`` name, parsed as the command line would, without running it."""
    ctx = main.make_context("guichet", list(words), obj=ScriptInfo(create_app=lambda: app))
    command: click.Command = main
    while isinstance(command, click.Group):
        args = [*ctx._protected_args, *ctx.args]
        if not args:
            break
        name, command, rest = command.resolve_command(ctx, args)
        ctx = command.make_context(name, rest, parent=ctx)
    return command


def test_the_documents_show_commands():
    assert len(documented_commands()) > 30


@pytest.mark.parametrize("source, line, whole", documented_commands())
def test_every_documented_command_is_one_the_command_line_takes(app, source, line, whole):
    try:
        with CliRunner().isolation(input="a-long-password\na-long-password\n"):
            parse(app, words_of(line))
    except click.MissingParameter as error:
        if whole:  # a sentence may name a command without its arguments; a block may not
            pytest.fail(f"{source}: `{line}`: {error.format_message()}")
    except click.UsageError as error:
        pytest.fail(f"{source}: `{line}`: {error.format_message()}")
