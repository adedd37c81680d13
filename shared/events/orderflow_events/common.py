"""Field types and small value models shared by the events of several services."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, Strict


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDateTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware instant, normalised to UTC; serialised as RFC 3339 with 'Z'."""

Quantity = Annotated[int, Strict(), Field(gt=0)]
"""A positive number of units."""

Count = Annotated[int, Strict(), Field(ge=0)]
"""A number of units that may be zero (stock levels)."""

Sku = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""A stock keeping unit: 1-64 letters, digits, '.', '_' or '-', starting alphanumeric."""

ShortText = Annotated[str, Field(min_length=1, max_length=500)]
"""A free-text reason or note for humans; never parse it."""

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A machine-readable snake_case code (decline reason, template name, ...)."""


class ContractModel(BaseModel):
    """Base of every model in the contract: immutable, tolerant of added fields."""

    # extra="ignore": producers may add fields, consumers of an older package must
    # still parse. hide_input_in_errors: no payload (card data, addresses) in errors.
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)


class StockLine(ContractModel):
    """A quantity of one sku."""

    sku: Sku = Field(description="The stock keeping unit.")
    quantity: Quantity = Field(description="Number of units, at least 1.")
