"""The sample shop that the demo, the fault suite and the benchmarks sell from.

Its catalog (one product stocked with a handful of units only, so that late customers
get `out_of_stock`), its delivery addresses, and its customers: what they buy, how they
pay (approved, declined, timing-out and flaky test tokens of the payment gateway) and
what they do afterwards (cancel, return part of the order, or try to type a card
number into a field that must refuse it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# sku, name, category, price (EUR), weight in grams
CATALOG: tuple[tuple[str, str, str, str, int], ...] = (
    ("TEE-RED-M", "T-shirt red M", "apparel", "19.90", 180),
    ("TEE-BLUE-L", "T-shirt blue L", "apparel", "19.90", 190),
    ("HOODIE-GREY-M", "Hoodie grey M", "apparel", "49.00", 600),
    ("MUG-001", "Ceramic mug", "kitchen", "8.50", 350),
    ("KETTLE-STEEL", "Steel kettle", "kitchen", "34.90", 1200),
    ("BOOK-DDD", "Domain-Driven Design", "books", "54.00", 900),
    ("LAMP-LIMITED", "Designer lamp, limited edition", "home", "129.00", 2100),
)
LIMITED_SKU = "LAMP-LIMITED"
"""Stocked with a handful of units only: customers who want it late get `out_of_stock`."""
ADDRESSES: tuple[dict[str, str], ...] = (
    {
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    },
    {
        "name": "Grace Hopper",
        "line1": "Friedrichstrasse 10",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
    },
    {
        "name": "Alan Kay",
        "line1": "1 Market St",
        "city": "San Francisco",
        "region": "CA",
        "postal_code": "94105",
        "country": "US",
    },
)


@dataclass(frozen=True)
class Customer:
    """One customer: what they buy, how they pay, and what they do afterwards."""

    number: int
    basket: dict[str, int]
    address: dict[str, str]
    token: str
    cancels: bool
    returns: bool
    card_probe: bool

    @property
    def email(self) -> str:
        return f"customer{self.number}@example.com"


def customer(number: int, rng: random.Random, *, probe_share: float = 0.0) -> Customer:
    """Customer `number`, drawn from `rng`; `probe_share` of them also try a card number."""
    skus = rng.sample([row[0] for row in CATALOG], k=rng.randint(1, 3))
    roll = rng.random()
    token = (
        "tok_decline_funds"
        if roll < 0.07
        else "tok_decline_fraud"
        if roll < 0.10
        else "tok_timeout"
        if roll < 0.12
        else "tok_transient_then_approve"
        if roll < 0.20
        else "tok_approve"
    )
    return Customer(
        number=number,
        basket={sku: rng.randint(1, 2) for sku in skus},
        address=dict(rng.choice(ADDRESSES)),
        token=token,
        cancels=rng.random() < 0.10,
        returns=rng.random() < 0.15,
        card_probe=rng.random() < probe_share,
    )
