"""What tokens cost: genai-prices' table, and a user price file for the rest.

Prices are looked up per (model, provider, UTC date, tier band) and turned
into four rates in USD per million tokens: uncached input, cache reads,
cache writes and output (reasoning is billed as output). Rates are linear
once the tier is fixed, so a rollup row's token sums are priced exactly like
the requests they sum; the band (see ``store.migrations.TIER_THRESHOLDS``)
fixes the tier of every request in the row. genai-prices is imported only
here, and only when a price is first asked for.

A model neither the user file nor genai-prices knows is *unpriced*: reports
list it and never count it as $0.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import math
import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import PriceFileError
from ..settings import Settings

MILLION = Decimal(1_000_000)
NANO = Decimal(1_000_000_000)
PRICE_FIELDS = ("input", "cache_read", "cache_write", "output")
ENTRY_KEYS = frozenset({"model", "provider", *PRICE_FIELDS})


@dataclass(frozen=True)
class Rates:
    """USD per million tokens, and where the rates come from."""

    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    output: Decimal
    source: str

    def cost(
        self,
        input_tokens: int,
        cached_input_tokens: int,
        cache_write_tokens: int,
        output_tokens: int,
    ) -> Decimal:
        """USD for these tokens (``input_tokens`` counts the cached ones too)."""
        uncached = max(0, input_tokens - cached_input_tokens - cache_write_tokens)
        return (
            uncached * self.input
            + cached_input_tokens * self.cache_read
            + cache_write_tokens * self.cache_write
            + output_tokens * self.output
        ) / MILLION

    @property
    def nano(self) -> tuple[int, int, int, int]:
        """The four rates in nano-USD per million tokens, as integers (fast, exact sums).

        Prices in the tables have at most a few decimals; a rate finer than
        a nano-dollar per million tokens would be rounded to one.
        """
        return tuple(  # type: ignore[return-value]
            int((rate * NANO).to_integral_value())
            for rate in (self.input, self.cache_read, self.cache_write, self.output)
        )


@dataclass(frozen=True)
class PriceEntry:
    """One model of a user price file."""

    model: str  # exact name or a glob (``llama-*``)
    provider: str | None
    rates: Rates

    def matches(self, model: str, provider: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        return fnmatch.fnmatchcase(model, self.model)


def _price_value(path: Path, label: str, key: str, value: object) -> Decimal:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
        or value < 0
    ):
        raise PriceFileError(
            f"{path}: {label}: {key} must be a number of USD per million tokens "
            f"(0 or more), got {value!r}"
        )
    return Decimal(str(value))


def load_price_file(path: Path) -> list[PriceEntry]:
    """Read and validate a TOML price file (format in docs/usage.md)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceFileError(f"cannot read price file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PriceFileError(f"{path}: not valid TOML: {exc}") from None
    extra = set(data) - {"model"}
    if extra:
        raise PriceFileError(
            f"{path}: unknown key(s) {', '.join(sorted(extra))}: "
            "expected only [[model]] tables"
        )
    entries = data.get("model", [])
    if not isinstance(entries, list):
        raise PriceFileError(f"{path}: model must be an array of tables ([[model]])")
    result: list[PriceEntry] = []
    for number, entry in enumerate(entries, 1):
        label = f"[[model]] #{number}"
        if not isinstance(entry, dict):
            raise PriceFileError(f"{path}: {label}: expected a table")
        name = entry.get("model")
        if not isinstance(name, str) or not name.strip():
            raise PriceFileError(f"{path}: {label}: model must be a non-empty name")
        label = f"[[model]] #{number} ({name})"
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            raise PriceFileError(
                f"{path}: {label}: unknown key(s) {', '.join(sorted(unknown))}; "
                f"expected {', '.join(sorted(ENTRY_KEYS))}"
            )
        provider = entry.get("provider")
        if provider is not None and not isinstance(provider, str):
            raise PriceFileError(f"{path}: {label}: provider must be a string")
        for required in ("input", "output"):
            if required not in entry:
                raise PriceFileError(f"{path}: {label}: {required} is required")
        values = {
            key: _price_value(path, label, key, entry[key])
            for key in PRICE_FIELDS
            if key in entry
        }
        rates = Rates(
            input=values["input"],
            cache_read=values.get("cache_read", values["input"]),
            cache_write=values.get("cache_write", values["input"]),
            output=values["output"],
            source=str(path),
        )
        result.append(PriceEntry(name, provider, rates))
    return result


@cache
def genai_prices_version() -> str:
    """The installed genai-prices version: the price table reports name."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return "not installed"


@cache
def _model_info(model: str, provider: str) -> Any:
    """genai-prices' model entry, or ``None`` when it does not know the model."""
    try:
        from genai_prices import data_snapshot
    except ImportError:
        return None
    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(
            model, None, provider or None, None
        )
    except LookupError:
        return None
    return info


@cache
def _price_changes(model: str, provider: str) -> tuple[str, ...]:
    """The UTC days on which genai-prices starts a new price of the model.

    Its prices are chosen by start date only (a time-of-day price is not
    applied: see :func:`_table_rates`), so between two of these days a
    model's rates stay the same.
    """
    info = _model_info(model, provider)
    if info is None or not isinstance(info.prices, list):
        return ()
    from genai_prices.types import StartDateConstraint

    return tuple(
        sorted(
            {
                price.constraint.start_date.isoformat()
                for price in info.prices
                if isinstance(price.constraint, StartDateConstraint)
            }
        )
    )


@cache
def _table_rates(model: str, provider: str, day: str, band: int) -> Rates | None:
    info = _model_info(model, provider)
    if info is None:
        return None
    from genai_prices import Usage
    from genai_prices.types import ModelPrice, TieredPrices

    # Midday UTC: date-bound price changes apply by UTC date; a time-of-day
    # discount (DeepSeek's off-peak) is not applied (see docs/usage.md).
    when = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
    price = info.get_prices(when)
    # Fix every tiered price at the tier a request in this band pays: its
    # input exceeds ``band`` and no tier start above it.
    fixed: dict[str, Any] = {}
    for key, value in price.__dict__.items():
        if isinstance(value, TieredPrices):
            chosen = value.base
            for tier in value.tiers:
                if band >= tier.start:
                    chosen = tier.price
            value = chosen
        fixed[key] = value
    flat = ModelPrice(**fixed)

    def rate(**tokens: int) -> Decimal:
        return Decimal(flat.calc_price(Usage(**tokens))["total_price"])

    m = 1_000_000
    return Rates(
        input=rate(input_tokens=m),
        cache_read=rate(input_tokens=m, cache_read_tokens=m),
        cache_write=rate(input_tokens=m, cache_write_tokens=m),
        output=rate(output_tokens=m),
        source=f"genai-prices {genai_prices_version()}",
    )


class PriceBook:
    """Rates for (model, provider, day, band): the user file first, then genai-prices.

    With a ``cache_path``, rates looked up in genai-prices are kept in a small
    JSON file (keyed by the package version), so a report in a new process
    need not import genai-prices and load its table (~0.2 s) again.
    """

    def __init__(
        self,
        entries: list[PriceEntry] | None = None,
        path: Path | None = None,
        cache_path: Path | None = None,
    ):
        self.entries = entries or []
        self.path = path
        self.cache_path = cache_path
        self._cache: dict[str, list[str] | None] | None = None
        self._dirty = False
        self._memo: dict[tuple[str, str, str, int], Rates | None] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, path: Path | None = None, *, cache: bool = True
    ) -> PriceBook:
        """The price book for ``settings`` (``path`` wins over ``CODEX_PRICES``).

        ``cache=False``: never write ``prices-cache.json`` (a read-only reader).
        """
        if path is not None:
            file, required = path, True
        else:
            file, required = settings.price_file
        cache_path = settings.db_path.parent / "prices-cache.json" if cache else None
        if not file.exists():
            if required:
                raise PriceFileError(f"price file {file} does not exist")
            return cls(cache_path=cache_path)
        return cls(load_price_file(file), file, cache_path)

    def rates(self, model: str, provider: str, day: str, band: int = 0) -> Rates | None:
        """USD per million tokens, or ``None`` when the model is unpriced."""
        for entry in self.entries:
            if entry.matches(model, provider):
                return entry.rates
        if not model:
            return None
        if self.cache_path is None:
            return _table_rates(model, provider, day, band)
        memo_key = (model, provider, day, band)
        if memo_key in self._memo:
            return self._memo[memo_key]
        self._memo[memo_key] = found = self._cached_rates(model, provider, day, band)
        return found

    def price_changes(self, model: str, provider: str) -> tuple[str, ...]:
        """UTC days (``2026-03-13``) on which the model's rates may change, oldest
        first: on any other day they are the day before's."""
        for entry in self.entries:
            if entry.matches(model, provider):
                return ()
        if not model:
            return ()
        if self.cache_path is None:
            return _price_changes(model, provider)
        cache = self._load_cache()
        key = f"changes\t{model}\t{provider}"
        if key in cache:
            return tuple(cache[key] or ())
        found = _price_changes(model, provider)
        cache[key] = list(found)
        self._dirty = True
        return found

    def _cached_rates(
        self, model: str, provider: str, day: str, band: int
    ) -> Rates | None:
        cache = self._load_cache()
        key = f"{model}\t{provider}\t{day}\t{band}"
        if key in cache:
            values = cache[key]
            if values is None:
                return None
            i, r, w, o = (Decimal(v) for v in values)
            return Rates(i, r, w, o, source=f"genai-prices {genai_prices_version()}")
        found = _table_rates(model, provider, day, band)
        cache[key] = (
            None
            if found is None
            else [
                str(found.input),
                str(found.cache_read),
                str(found.cache_write),
                str(found.output),
            ]
        )
        self._dirty = True
        return found

    def _load_cache(self) -> dict[str, list[str] | None]:
        if self._cache is None:
            self._cache = {}
            assert self.cache_path is not None
            try:
                data = json.loads(self.cache_path.read_text(encoding="utf-8"))
                if data.get("genai_prices") == genai_prices_version():
                    self._cache = dict(data["rates"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                pass  # no cache, or a stale or broken one: look prices up again
        return self._cache

    def save(self) -> None:
        """Write looked-up rates to the cache file (best effort: it is only a cache)."""
        if not self._dirty or self.cache_path is None or self._cache is None:
            return
        data = {"genai_prices": genai_prices_version(), "rates": self._cache}
        tmp = self.cache_path.with_name(f".{self.cache_path.name}.{os.getpid()}")
        try:
            tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.cache_path)
            self._dirty = False
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def describe(self) -> dict[str, Any]:
        """What priced a report: the table's version and the user file, if any."""
        return {
            "genai_prices": genai_prices_version(),
            "price_file": str(self.path) if self.path else None,
        }
