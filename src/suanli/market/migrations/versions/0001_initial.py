"""Initial market schema: currencies, quotes, leases, events (+ chips), systems,
inventories, calibration profiles, import log, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

The vocabularies are frozen here as literals: a later change to a vocabulary is a new
migration, not an edit of this one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

QUOTE_KINDS = ("chip", "server", "module", "lease", "cloud", "token_api")
CHANNELS = ("oem", "dealer", "grey", "cloud", "marketplace")
UNITS = ("per_chip", "per_server", "per_module", "per_server_month", "per_gpu_month",
         "per_gpu_hour", "per_million_tokens")
LEASE_UNITS = ("per_server_month", "per_gpu_month", "per_gpu_hour")
TERMS = ("", "on_demand", "reserved", "spot", "contract")
CONFIDENCE = ("high", "medium", "low")
PRECISIONS = ("day", "month", "year")
EVENT_KINDS = ("export_control", "licence", "policy", "supply", "demand", "price",
               "product_launch", "other")
INVENTORY_KINDS = ("chip", "server", "module")
FINANCING = ("cash", "loan", "vendor_credit", "lease", "other")
CURRENCIES = {
    "CNY": "Chinese yuan renminbi", "USD": "US dollar", "EUR": "Euro", "HKD": "Hong Kong dollar",
    "TWD": "New Taiwan dollar", "JPY": "Japanese yen", "KRW": "South Korean won",
    "SGD": "Singapore dollar", "GBP": "Pound sterling",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    # an OR chain, not IN (...): SQLite rebuilds an IN list's lookup table for every row of
    # an executemany, which made CHECKs most of a bulk import's cost
    return "(" + " OR ".join(f"{column} = '{v}'" for v in values) + ")"


def _ck(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=f"ck_{table}_{name}")


def _pk(table: str, *cols: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*cols, name=f"pk_{table}")


def _fk_currency(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["currency"], ["currencies.code"], name=f"fk_{table}_currency_currencies")


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, autoincrement=True, nullable=False)


def _dated(table: str) -> list[sa.Column | sa.CheckConstraint]:
    return [sa.Column("date", sa.Date, nullable=False),
            sa.Column("date_precision", sa.String(5), nullable=False, server_default="day"),
            _ck(table, "date_precision", _in("date_precision", PRECISIONS))]


def _nonempty(table: str, *cols: str) -> list[sa.CheckConstraint]:
    return [_ck(table, f"{c}_nonempty", f"length({c}) > 0") for c in cols]


def upgrade() -> None:
    currencies = op.create_table(
        "currencies",
        sa.Column("code", sa.String(3), nullable=False),
        sa.Column("name", sa.String(60), nullable=False, server_default=""),
        _pk("currencies", "code"),
        _ck("currencies", "code_iso", "length(code) = 3 AND code = upper(code)"),
    )
    op.bulk_insert(currencies, [{"code": c, "name": n} for c, n in CURRENCIES.items()])

    op.create_table(
        "quotes", _id(), *_dated("quotes"),
        sa.Column("item", sa.String(120), nullable=False),
        sa.Column("chip", sa.String(120), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("term", sa.String(10), nullable=False, server_default=""),
        sa.Column("configuration", sa.String(300), nullable=False, server_default=""),
        sa.Column("gpus", sa.Integer, nullable=True),
        sa.Column("price", sa.Double, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("region", sa.String(40), nullable=False, server_default=""),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("confidence", sa.String(6), nullable=False, server_default="medium"),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        _pk("quotes", "id"), _fk_currency("quotes"),
        _ck("quotes", "price_positive", "price > 0"),
        _ck("quotes", "kind", _in("kind", QUOTE_KINDS)),
        _ck("quotes", "term", _in("term", TERMS)),
        _ck("quotes", "unit", _in("unit", UNITS)),
        _ck("quotes", "channel", _in("channel", CHANNELS)),
        _ck("quotes", "confidence", _in("confidence", CONFIDENCE)),
        _ck("quotes", "gpus_positive", "gpus IS NULL OR gpus > 0"),
        *_nonempty("quotes", "item", "source"),
        sa.UniqueConstraint("date", "date_precision", "item", "kind", "term", "configuration", "price",
                            "currency", "unit", "channel", "region", "source", name="uq_quotes_observation"),
    )
    op.create_index("ix_quotes_chip_lower", "quotes", [sa.text("lower(chip)")])

    op.create_table(
        "leases", _id(), *_dated("leases"),
        sa.Column("item", sa.String(120), nullable=False),
        sa.Column("chip", sa.String(120), nullable=True),
        sa.Column("configuration", sa.String(300), nullable=False, server_default=""),
        sa.Column("gpus", sa.Integer, nullable=True),
        sa.Column("units", sa.Integer, nullable=False, server_default="1"),
        sa.Column("term_months", sa.Integer, nullable=False, server_default="0"),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.Column("price", sa.Double, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("region", sa.String(40), nullable=False, server_default=""),
        sa.Column("lessor", sa.String(120), nullable=False, server_default=""),
        sa.Column("lessee", sa.String(120), nullable=False, server_default=""),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("confidence", sa.String(6), nullable=False, server_default="medium"),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        _pk("leases", "id"), _fk_currency("leases"),
        _ck("leases", "price_positive", "price > 0"),
        _ck("leases", "unit", _in("unit", LEASE_UNITS)),
        _ck("leases", "channel", _in("channel", CHANNELS)),
        _ck("leases", "confidence", _in("confidence", CONFIDENCE)),
        _ck("leases", "gpus_positive", "gpus IS NULL OR gpus > 0"),
        _ck("leases", "units_positive", "units > 0"),
        _ck("leases", "term_nonnegative", "term_months >= 0"),
        *_nonempty("leases", "item", "source"),
        sa.UniqueConstraint("date", "date_precision", "item", "configuration", "units", "term_months", "price",
                            "currency", "unit", "channel", "region", "lessor", "lessee", "source",
                            name="uq_leases_observation"),
    )
    op.create_index("ix_leases_chip_lower", "leases", [sa.text("lower(chip)")])

    op.create_table(
        "events", _id(), *_dated("events"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.String(600), nullable=False),
        sa.Column("impact", sa.Text, nullable=False, server_default=""),
        sa.Column("region", sa.String(40), nullable=False, server_default=""),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("confidence", sa.String(6), nullable=False, server_default="medium"),
        _pk("events", "id"),
        _ck("events", "kind", _in("kind", EVENT_KINDS)),
        _ck("events", "confidence", _in("confidence", CONFIDENCE)),
        *_nonempty("events", "description", "source"),
        sa.UniqueConstraint("date", "date_precision", "kind", "description", "source",
                            name="uq_events_observation"),
    )
    op.create_index("ix_events_date", "events", ["date"])

    op.create_table(
        "event_chips",
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("chip", sa.String(120), nullable=False),
        _pk("event_chips", "event_id", "chip"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_event_chips_event_id_events",
                                ondelete="CASCADE"),
        *_nonempty("event_chips", "chip"),
    )
    op.create_index("ix_event_chips_chip_lower", "event_chips", [sa.text("lower(chip)")])

    op.create_table(
        "systems",
        sa.Column("id", sa.String(120), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("gpus", sa.Integer, nullable=True),
        sa.Column("gpu_id", sa.String(120), nullable=False, server_default=""),
        sa.Column("cpu", sa.String(300), nullable=False, server_default=""),
        sa.Column("host_memory_gb", sa.Double, nullable=True),
        sa.Column("nics", sa.String(300), nullable=False, server_default=""),
        sa.Column("price_low", sa.Double, nullable=True),
        sa.Column("price_high", sa.Double, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("price_date", sa.Date, nullable=True),
        sa.Column("date_precision", sa.String(5), nullable=False, server_default="day"),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        _pk("systems", "id"), _fk_currency("systems"),
        _ck("systems", "gpus_positive", "gpus IS NULL OR gpus > 0"),
        _ck("systems", "price_has_currency_and_date",
            "price_low IS NULL OR (price_low > 0 AND currency IS NOT NULL AND price_date IS NOT NULL)"),
        _ck("systems", "price_range", "price_high IS NULL OR (price_low IS NOT NULL AND price_high >= price_low)"),
        _ck("systems", "date_precision", _in("date_precision", PRECISIONS)),
        *_nonempty("systems", "source"),
    )

    op.create_table(
        "inventories", _id(),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("item", sa.String(120), nullable=False),
        sa.Column("chip", sa.String(120), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("configuration", sa.String(300), nullable=False, server_default=""),
        sa.Column("gpus", sa.Integer, nullable=False, server_default="1"),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_cost", sa.Double, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("acquisition_date", sa.Date, nullable=False),
        sa.Column("financing", sa.String(16), nullable=False, server_default="cash"),
        sa.Column("financing_rate", sa.Double, nullable=True),
        sa.Column("location", sa.String(120), nullable=False, server_default=""),
        sa.Column("source", sa.String(500), nullable=False, server_default=""),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        _pk("inventories", "id"), _fk_currency("inventories"),
        _ck("inventories", "kind", _in("kind", INVENTORY_KINDS)),
        _ck("inventories", "financing", _in("financing", FINANCING)),
        _ck("inventories", "quantity_positive", "quantity > 0"),
        _ck("inventories", "gpus_positive", "gpus > 0"),
        _ck("inventories", "unit_cost_nonnegative", "unit_cost >= 0"),
        _ck("inventories", "financing_rate_range",
            "financing_rate IS NULL OR (financing_rate >= 0 AND financing_rate < 1)"),
        *_nonempty("inventories", "owner", "item"),
        sa.UniqueConstraint("owner", "item", "configuration", "quantity", "unit_cost", "currency",
                            "acquisition_date", "financing", "location", name="uq_inventories_lot"),
    )
    op.create_index("ix_inventories_owner", "inventories", ["owner"])

    op.create_table(
        "calibration_profiles", _id(),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("engine", sa.String(40), nullable=False, server_default=""),
        sa.Column("hardware", sa.String(120), nullable=False, server_default=""),
        sa.Column("model", sa.String(200), nullable=False, server_default=""),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        _pk("calibration_profiles", "id"),
        *_nonempty("calibration_profiles", "name", "source"),
        sa.UniqueConstraint("name", "engine", "hardware", "model", "date",
                            name="uq_calibration_profiles_version"),
    )

    op.create_table(
        "imports", _id(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_added", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
        _pk("imports", "id"),
    )

    op.create_table(
        "market_meta",
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        _pk("market_meta", "key"),
    )


def downgrade() -> None:
    for table in ("market_meta", "imports", "calibration_profiles", "inventories", "systems",
                  "event_chips", "events", "leases", "quotes", "currencies"):
        op.drop_table(table)
