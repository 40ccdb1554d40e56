"""The market database schema (SQLAlchemy Core) and its vocabularies.

This module is the schema the code queries against; the migrations in
:mod:`suanli.market.migrations` create it (a test checks the two agree on SQLite and
PostgreSQL).  The rules live in the database, not only in Python:

* no price without currency, unit and date: ``NOT NULL`` on all four, a ``CHECK`` that the
  price is positive and a foreign key from ``currency`` to the ``currencies`` table;
* vocabularies (kind, channel, unit, confidence, ...) are ``CHECK ... IN (...)`` constraints;
* one observation is stored once: a ``UNIQUE`` constraint over the columns that identify it
  (everything but notes and confidence), which imports hit with ``ON CONFLICT DO NOTHING``.
  Identity columns are ``NOT NULL`` (``''`` for "not stated") so the constraint cannot be
  dodged with NULLs.

Text limits keep each unique-index entry under PostgreSQL's btree limit.  Dates with only a
month or a year (``2024-02``, ``2023``) are stored as the first day of that period with
``date_precision`` ``month`` / ``year``.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

# --- vocabularies ------------------------------------------------------------------------

QUOTE_KINDS = ("chip", "server", "module", "lease", "cloud", "token_api")
CHANNELS = ("oem", "dealer", "grey", "cloud", "marketplace")
UNITS = ("per_chip", "per_server", "per_module", "per_server_month", "per_gpu_month",
         "per_gpu_hour", "per_million_tokens")
# which units a kind of quote may be priced in
KIND_UNITS: dict[str, tuple[str, ...]] = {
    "chip": ("per_chip",),
    "server": ("per_server",),
    "module": ("per_module",),
    "lease": ("per_server_month", "per_gpu_month", "per_gpu_hour"),
    "cloud": ("per_gpu_hour", "per_gpu_month", "per_server_month"),
    "token_api": ("per_million_tokens",),
}
TERMS = ("", "on_demand", "reserved", "spot", "contract")
CONFIDENCE = ("high", "medium", "low")
PRECISIONS = ("day", "month", "year")
EVENT_KINDS = ("export_control", "licence", "policy", "supply", "demand", "price",
               "product_launch", "other")
INVENTORY_KINDS = ("chip", "server", "module")
FINANCING = ("cash", "loan", "vendor_credit", "lease", "other")
LEASE_UNITS = ("per_server_month", "per_gpu_month", "per_gpu_hour")
# ISO 4217 codes seeded into the `currencies` table by the first migration
CURRENCIES: dict[str, str] = {
    "CNY": "Chinese yuan renminbi", "USD": "US dollar", "EUR": "Euro", "HKD": "Hong Kong dollar",
    "TWD": "New Taiwan dollar", "JPY": "Japanese yen", "KRW": "South Korean won",
    "SGD": "Singapore dollar", "GBP": "Pound sterling",
}

# text limits (characters)
ITEM_LEN, CONFIG_LEN, SOURCE_LEN, REGION_LEN, NAME_LEN, DESCRIPTION_LEN = 120, 300, 500, 40, 120, 600

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def _in(column: str, values: tuple[str, ...]) -> str:
    # an OR chain, not IN (...): SQLite rebuilds an IN list's lookup table for every row of
    # an executemany, which made CHECKs most of a bulk import's cost
    return "(" + " OR ".join(f"{column} = '{v}'" for v in values) + ")"


def _nonempty(column: str) -> str:
    return f"length({column}) > 0"


currencies = Table(
    "currencies", metadata,
    Column("code", String(3), primary_key=True),
    Column("name", String(60), nullable=False, server_default=""),
    CheckConstraint("length(code) = 3 AND code = upper(code)", name="code_iso"),
)

quotes = Table(
    "quotes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("date", Date, nullable=False),
    Column("date_precision", String(5), nullable=False, server_default="day"),
    Column("item", String(ITEM_LEN), nullable=False),
    Column("chip", String(ITEM_LEN), nullable=True),
    Column("kind", String(10), nullable=False),
    Column("term", String(10), nullable=False, server_default=""),
    Column("configuration", String(CONFIG_LEN), nullable=False, server_default=""),
    Column("gpus", Integer, nullable=True),
    Column("price", Double, nullable=False),
    Column("currency", String(3), ForeignKey("currencies.code"), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("channel", String(12), nullable=False),
    Column("region", String(REGION_LEN), nullable=False, server_default=""),
    Column("source", String(SOURCE_LEN), nullable=False),
    Column("confidence", String(6), nullable=False, server_default="medium"),
    Column("notes", Text, nullable=False, server_default=""),
    CheckConstraint("price > 0", name="price_positive"),
    CheckConstraint(_in("date_precision", PRECISIONS), name="date_precision"),
    CheckConstraint(_in("kind", QUOTE_KINDS), name="kind"),
    CheckConstraint(_in("term", TERMS), name="term"),
    CheckConstraint(_in("unit", UNITS), name="unit"),
    CheckConstraint(_in("channel", CHANNELS), name="channel"),
    CheckConstraint(_in("confidence", CONFIDENCE), name="confidence"),
    CheckConstraint("gpus IS NULL OR gpus > 0", name="gpus_positive"),
    CheckConstraint(_nonempty("item"), name="item_nonempty"),
    CheckConstraint(_nonempty("source"), name="source_nonempty"),
    UniqueConstraint("date", "date_precision", "item", "kind", "term", "configuration", "price",
                     "currency", "unit", "channel", "region", "source", name="uq_quotes_observation"),
)
# one secondary index: the price index and `--item` look quotes up by chip; every extra
# index costs bulk imports more than it saves the (scan-fast) date filters
Index("ix_quotes_chip_lower", func.lower(quotes.c.chip))

leases = Table(
    "leases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("date", Date, nullable=False),
    Column("date_precision", String(5), nullable=False, server_default="day"),
    Column("item", String(ITEM_LEN), nullable=False),
    Column("chip", String(ITEM_LEN), nullable=True),
    Column("configuration", String(CONFIG_LEN), nullable=False, server_default=""),
    Column("gpus", Integer, nullable=True),                       # GPUs per leased unit
    Column("units", Integer, nullable=False, server_default="1"),  # leased units
    Column("term_months", Integer, nullable=False, server_default="0"),  # 0: not stated
    Column("start_date", Date, nullable=True),
    Column("price", Double, nullable=False),
    Column("currency", String(3), ForeignKey("currencies.code"), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("channel", String(12), nullable=False),
    Column("region", String(REGION_LEN), nullable=False, server_default=""),
    Column("lessor", String(NAME_LEN), nullable=False, server_default=""),
    Column("lessee", String(NAME_LEN), nullable=False, server_default=""),
    Column("source", String(SOURCE_LEN), nullable=False),
    Column("confidence", String(6), nullable=False, server_default="medium"),
    Column("notes", Text, nullable=False, server_default=""),
    CheckConstraint("price > 0", name="price_positive"),
    CheckConstraint(_in("date_precision", PRECISIONS), name="date_precision"),
    CheckConstraint(_in("unit", LEASE_UNITS), name="unit"),
    CheckConstraint(_in("channel", CHANNELS), name="channel"),
    CheckConstraint(_in("confidence", CONFIDENCE), name="confidence"),
    CheckConstraint("gpus IS NULL OR gpus > 0", name="gpus_positive"),
    CheckConstraint("units > 0", name="units_positive"),
    CheckConstraint("term_months >= 0", name="term_nonnegative"),
    CheckConstraint(_nonempty("item"), name="item_nonempty"),
    CheckConstraint(_nonempty("source"), name="source_nonempty"),
    UniqueConstraint("date", "date_precision", "item", "configuration", "units", "term_months", "price",
                     "currency", "unit", "channel", "region", "lessor", "lessee", "source",
                     name="uq_leases_observation"),
)
Index("ix_leases_chip_lower", func.lower(leases.c.chip))

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("date", Date, nullable=False),
    Column("date_precision", String(5), nullable=False, server_default="day"),
    Column("kind", String(16), nullable=False),
    Column("description", String(DESCRIPTION_LEN), nullable=False),
    Column("impact", Text, nullable=False, server_default=""),
    Column("region", String(REGION_LEN), nullable=False, server_default=""),
    Column("source", String(SOURCE_LEN), nullable=False),
    Column("confidence", String(6), nullable=False, server_default="medium"),
    CheckConstraint(_in("date_precision", PRECISIONS), name="date_precision"),
    CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
    CheckConstraint(_in("confidence", CONFIDENCE), name="confidence"),
    CheckConstraint(_nonempty("description"), name="description_nonempty"),
    CheckConstraint(_nonempty("source"), name="source_nonempty"),
    UniqueConstraint("date", "date_precision", "kind", "description", "source", name="uq_events_observation"),
)
Index("ix_events_date", events.c.date)

event_chips = Table(
    "event_chips", metadata,
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("chip", String(ITEM_LEN), nullable=False),
    PrimaryKeyConstraint("event_id", "chip"),
    CheckConstraint(_nonempty("chip"), name="chip_nonempty"),
)
Index("ix_event_chips_chip_lower", func.lower(event_chips.c.chip))

systems = Table(
    "systems", metadata,
    Column("id", String(NAME_LEN), primary_key=True),
    Column("name", String(CONFIG_LEN), nullable=False),
    Column("gpus", Integer, nullable=True),  # not stated for some appliances
    Column("gpu_id", String(NAME_LEN), nullable=False, server_default=""),
    Column("cpu", String(CONFIG_LEN), nullable=False, server_default=""),
    Column("host_memory_gb", Double, nullable=True),
    Column("nics", String(CONFIG_LEN), nullable=False, server_default=""),
    Column("price_low", Double, nullable=True),
    Column("price_high", Double, nullable=True),
    Column("currency", String(3), ForeignKey("currencies.code"), nullable=True),
    Column("price_date", Date, nullable=True),
    Column("date_precision", String(5), nullable=False, server_default="day"),
    Column("source", String(SOURCE_LEN), nullable=False),
    Column("notes", Text, nullable=False, server_default=""),
    CheckConstraint("gpus IS NULL OR gpus > 0", name="gpus_positive"),
    CheckConstraint("price_low IS NULL OR (price_low > 0 AND currency IS NOT NULL AND price_date IS NOT NULL)",
                    name="price_has_currency_and_date"),
    CheckConstraint("price_high IS NULL OR (price_low IS NOT NULL AND price_high >= price_low)",
                    name="price_range"),
    CheckConstraint(_in("date_precision", PRECISIONS), name="date_precision"),
    CheckConstraint(_nonempty("source"), name="source_nonempty"),
)

inventories = Table(
    "inventories", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(NAME_LEN), nullable=False),
    Column("item", String(ITEM_LEN), nullable=False),
    Column("chip", String(ITEM_LEN), nullable=True),
    Column("kind", String(10), nullable=False),
    Column("configuration", String(CONFIG_LEN), nullable=False, server_default=""),
    Column("gpus", Integer, nullable=False, server_default="1"),  # GPUs per unit
    Column("quantity", Integer, nullable=False),
    Column("unit_cost", Double, nullable=False),
    Column("currency", String(3), ForeignKey("currencies.code"), nullable=False),
    Column("acquisition_date", Date, nullable=False),
    Column("financing", String(16), nullable=False, server_default="cash"),
    Column("financing_rate", Double, nullable=True),  # annual, 0.06 = 6 %/year
    Column("location", String(NAME_LEN), nullable=False, server_default=""),
    Column("source", String(SOURCE_LEN), nullable=False, server_default=""),
    Column("notes", Text, nullable=False, server_default=""),
    CheckConstraint(_in("kind", INVENTORY_KINDS), name="kind"),
    CheckConstraint(_in("financing", FINANCING), name="financing"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("gpus > 0", name="gpus_positive"),
    CheckConstraint("unit_cost >= 0", name="unit_cost_nonnegative"),
    CheckConstraint("financing_rate IS NULL OR (financing_rate >= 0 AND financing_rate < 1)",
                    name="financing_rate_range"),
    CheckConstraint(_nonempty("owner"), name="owner_nonempty"),
    CheckConstraint(_nonempty("item"), name="item_nonempty"),
    UniqueConstraint("owner", "item", "configuration", "quantity", "unit_cost", "currency",
                     "acquisition_date", "financing", "location", name="uq_inventories_lot"),
)
Index("ix_inventories_owner", inventories.c.owner)

calibration_profiles = Table(
    "calibration_profiles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LEN), nullable=False),
    Column("engine", String(40), nullable=False, server_default=""),
    Column("hardware", String(NAME_LEN), nullable=False, server_default=""),
    Column("model", String(200), nullable=False, server_default=""),
    Column("date", Date, nullable=False),
    Column("params", Text, nullable=False),  # JSON object
    Column("source", String(SOURCE_LEN), nullable=False),
    Column("notes", Text, nullable=False, server_default=""),
    CheckConstraint(_nonempty("name"), name="name_nonempty"),
    CheckConstraint(_nonempty("source"), name="source_nonempty"),
    UniqueConstraint("name", "engine", "hardware", "model", "date", name="uq_calibration_profiles_version"),
)

imports = Table(
    "imports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("file_name", String(SOURCE_LEN), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_added", Integer, nullable=False),
    Column("imported_at", DateTime, nullable=False),
)

# benchmark runs read from result files (``suanli runs import``; :mod:`suanli.market.runs`)
RUN_FORMATS = ("vllm", "sglang", "genai-perf", "aiperf", "guidellm", "mlperf", "trtllm", "cases")
RUN_ENGINES = ("", "vllm", "sglang", "trtllm", "mindie", "other")
RUN_SCENARIOS = ("", "offline", "server", "fixed-concurrency", "single-request", "prefill-only", "decode-only")
RUN_WEIGHT_DTYPES = ("", "bf16", "fp16", "fp8", "int8", "int4", "fp4", "mxfp4")
RUN_KV_DTYPES = ("", "bf16", "fp16", "fp8")

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("format", String(20), nullable=False),
    Column("file_name", String(SOURCE_LEN), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("record_index", Integer, nullable=False),
    Column("command", Text, nullable=False, server_default=""),
    Column("hardware", String(NAME_LEN), nullable=False),
    Column("model", String(200), nullable=False),
    Column("engine", String(10), nullable=False, server_default=""),
    Column("engine_version", String(NAME_LEN), nullable=False, server_default=""),
    Column("gpus", Integer, nullable=False),
    Column("tp", Integer, nullable=True),
    Column("pp", Integer, nullable=True),
    Column("ep", Integer, nullable=True),
    Column("dp_attention", Integer, nullable=True),
    Column("weight_dtype", String(8), nullable=False, server_default=""),
    Column("kv_dtype", String(8), nullable=False, server_default=""),
    Column("scenario", String(20), nullable=False, server_default=""),
    Column("isl", Double, nullable=True),
    Column("osl", Double, nullable=True),
    Column("concurrency", Integer, nullable=True),
    Column("request_rate", Double, nullable=True),
    Column("num_requests", Integer, nullable=True),
    Column("label", String(NAME_LEN), nullable=False, server_default=""),
    Column("metrics", Text, nullable=False),   # JSON object metric -> value
    Column("extras", Text, nullable=False),    # JSON object
    Column("imported_at", DateTime, nullable=False),
    CheckConstraint(_in("format", RUN_FORMATS), name="format"),
    CheckConstraint(_in("engine", RUN_ENGINES), name="engine"),
    CheckConstraint(_in("scenario", RUN_SCENARIOS), name="scenario"),
    CheckConstraint(_in("weight_dtype", RUN_WEIGHT_DTYPES), name="weight_dtype"),
    CheckConstraint(_in("kv_dtype", RUN_KV_DTYPES), name="kv_dtype"),
    CheckConstraint("record_index >= 0", name="record_index_nonnegative"),
    CheckConstraint("gpus > 0", name="gpus_positive"),
    CheckConstraint("(tp IS NULL OR tp > 0) AND (pp IS NULL OR pp > 0) AND (ep IS NULL OR ep > 0) "
                    "AND (dp_attention IS NULL OR dp_attention > 0)", name="layout_positive"),
    CheckConstraint("(isl IS NULL OR isl > 0) AND (osl IS NULL OR osl > 0)", name="lengths_positive"),
    CheckConstraint("(concurrency IS NULL OR concurrency > 0) AND (request_rate IS NULL OR request_rate > 0) "
                    "AND (num_requests IS NULL OR num_requests > 0)", name="load_positive"),
    CheckConstraint(_nonempty("hardware"), name="hardware_nonempty"),
    CheckConstraint(_nonempty("model"), name="model_nonempty"),
    CheckConstraint("length(file_sha256) = 64", name="sha256_length"),
    UniqueConstraint("file_sha256", "record_index", name="uq_runs_record"),
    sqlite_autoincrement=True,   # a deleted run's id is never reused (profiles cite run ids)
)

market_meta = Table(
    "market_meta", metadata,
    Column("key", String(60), primary_key=True),
    Column("value", Text, nullable=False),
)

# record kinds that `import` / `export` handle, with their table
TABLES = {"quotes": quotes, "leases": leases, "events": events, "inventories": inventories,
          "systems": systems, "calibration": calibration_profiles}
# every table, parents before children (backup/restore order)
ALL_TABLES = (currencies, quotes, leases, events, event_chips, systems, inventories,
              calibration_profiles, imports, runs, market_meta)
