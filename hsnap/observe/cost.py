"""What snapshots cost per month (pure: sizes and a price in, money out).

Hetzner bills a snapshot by its ``image_size`` in GB per month; the price comes from
``GET /pricing`` (``image.price_per_gb_month``) and is never hard-coded here. Figures are net (as
Hetzner lists them, without VAT); the price's currency goes with every figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from hsnap.models import ImagePrice, ImageRef
from hsnap.policy import MANAGED_BY, MANAGED_BY_VALUE

CENT = Decimal("0.01")


def monthly_cost(size_gb: float | None, price: ImagePrice) -> Decimal:
    """A snapshot's monthly price; one still being created (no size yet) costs nothing yet."""
    return Decimal(str(size_gb or 0.0)) * price.net


def money(amount: Decimal, currency: str) -> str:
    """``amount`` rounded to cents, with its currency: ``"1.23 EUR"``."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP)} {currency}"


def is_hsnaps(image: ImageRef) -> bool:
    """Whether hsnap made this snapshot (it carries hsnap's ownership label)."""
    return image.labels.get(MANAGED_BY) == MANAGED_BY_VALUE


@dataclass(frozen=True)
class ProjectCost:
    """hsnap's snapshots of a project: how many, how large, and what they cost a month."""

    count: int
    size_gb: float
    monthly: Decimal
    currency: str

    def describe(self) -> str:
        return (
            f"hsnap's {self.count} snapshot(s) of this project hold {self.size_gb:.2f} GB and "
            f"cost {money(self.monthly, self.currency)} a month (net)"
        )


def project_cost(images: Iterable[ImageRef], price: ImagePrice) -> ProjectCost:
    """The monthly cost of the snapshots among ``images`` that hsnap made."""
    own = [i for i in images if is_hsnaps(i) and i.image_type == "snapshot"]
    size = sum(i.image_size or 0.0 for i in own)
    monthly = sum((monthly_cost(i.image_size, price) for i in own), Decimal(0))
    return ProjectCost(len(own), size, monthly, price.currency)
