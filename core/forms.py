"""Form fields the core gives plugins (through the plugin API)."""

from __future__ import annotations

from wtforms import TextAreaField


class LinesField(TextAreaField):
    """A text area whose value is a list of lines: one per line, stripped, empty lines
    and repeats dropped, each at most ``max_line`` characters (an app setting that
    holds a list, such as the categories offered)."""

    def __init__(self, *args, max_line: int = 100, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_line = max_line

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist:
            lines = (line.strip() for line in valuelist[0].splitlines())
            self.data = list(dict.fromkeys(line[: self.max_line] for line in lines if line))

    def _value(self) -> str:
        return "\n".join(self.data or ())
