"""Notice templates (Jinja2): a subject, a text body, an HTML body and an SMS text each.

`templates/<name>/subject.txt`, `body.txt`, `body.html` (autoescaped) and `sms.txt`.
Rendering is strict: a missing value is an error, never an empty gap in a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from orderflow_events import quantize

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


def format_money(amount: Decimal, currency: str) -> str:
    """`19.90 EUR`: the currency's minor-unit decimals, never float formatting."""
    return f"{format(quantize(Decimal(amount), currency), 'f')} {currency}"


def format_time(value: datetime) -> str:
    return value.strftime("%d %b %Y, %H:%M UTC")


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("orderflow_notification", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = format_money
    env.filters["when"] = format_time
    return env


def render(template: str, context: dict[str, Any]) -> Rendered:
    env = environment()

    def part(name: str) -> str:
        return env.get_template(f"{template}/{name}").render(context)

    # One line, whatever the template says: a newline in a header would end it.
    subject = _WHITESPACE.sub(" ", part("subject.txt")).strip()
    sms = _WHITESPACE.sub(" ", part("sms.txt")).strip()
    return Rendered(subject=subject, text=part("body.txt"), html=part("body.html"), sms=sms)
