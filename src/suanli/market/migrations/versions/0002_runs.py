"""Benchmark runs read from result files (``suanli runs import``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

One row per run: the configuration (hardware, model, engine, layout, dtypes, workload,
scenario), the measured metrics and the extras as JSON text, the file's name and SHA-256
and the run's position in it (unique together, so a re-imported file is a duplicate).
The vocabularies are frozen here as literals: a later change is a new migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FORMATS = ("vllm", "sglang", "genai-perf", "aiperf", "guidellm", "mlperf", "trtllm", "cases")
ENGINES = ("", "vllm", "sglang", "trtllm", "mindie", "other")
SCENARIOS = ("", "offline", "server", "fixed-concurrency", "single-request", "prefill-only", "decode-only")
WEIGHT_DTYPES = ("", "bf16", "fp16", "fp8", "int8", "int4", "fp4", "mxfp4")
KV_DTYPES = ("", "bf16", "fp16", "fp8")


def _in(column: str, values: tuple[str, ...]) -> str:
    # an OR chain, not IN (...) (see 0001)
    return "(" + " OR ".join(f"{column} = '{v}'" for v in values) + ")"


def _ck(name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=f"ck_runs_{name}")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("record_index", sa.Integer, nullable=False),
        sa.Column("command", sa.Text, nullable=False, server_default=""),
        sa.Column("hardware", sa.String(120), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("engine", sa.String(10), nullable=False, server_default=""),
        sa.Column("engine_version", sa.String(120), nullable=False, server_default=""),
        sa.Column("gpus", sa.Integer, nullable=False),
        sa.Column("tp", sa.Integer, nullable=True),
        sa.Column("pp", sa.Integer, nullable=True),
        sa.Column("ep", sa.Integer, nullable=True),
        sa.Column("dp_attention", sa.Integer, nullable=True),
        sa.Column("weight_dtype", sa.String(8), nullable=False, server_default=""),
        sa.Column("kv_dtype", sa.String(8), nullable=False, server_default=""),
        sa.Column("scenario", sa.String(20), nullable=False, server_default=""),
        sa.Column("isl", sa.Double, nullable=True),
        sa.Column("osl", sa.Double, nullable=True),
        sa.Column("concurrency", sa.Integer, nullable=True),
        sa.Column("request_rate", sa.Double, nullable=True),
        sa.Column("num_requests", sa.Integer, nullable=True),
        sa.Column("label", sa.String(120), nullable=False, server_default=""),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("extras", sa.Text, nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        _ck("format", _in("format", FORMATS)),
        _ck("engine", _in("engine", ENGINES)),
        _ck("scenario", _in("scenario", SCENARIOS)),
        _ck("weight_dtype", _in("weight_dtype", WEIGHT_DTYPES)),
        _ck("kv_dtype", _in("kv_dtype", KV_DTYPES)),
        _ck("record_index_nonnegative", "record_index >= 0"),
        _ck("gpus_positive", "gpus > 0"),
        _ck("layout_positive", "(tp IS NULL OR tp > 0) AND (pp IS NULL OR pp > 0) AND (ep IS NULL OR ep > 0) "
                               "AND (dp_attention IS NULL OR dp_attention > 0)"),
        _ck("lengths_positive", "(isl IS NULL OR isl > 0) AND (osl IS NULL OR osl > 0)"),
        _ck("load_positive", "(concurrency IS NULL OR concurrency > 0) AND (request_rate IS NULL OR request_rate > 0) "
                             "AND (num_requests IS NULL OR num_requests > 0)"),
        _ck("hardware_nonempty", "length(hardware) > 0"),
        _ck("model_nonempty", "length(model) > 0"),
        _ck("sha256_length", "length(file_sha256) = 64"),
        sa.UniqueConstraint("file_sha256", "record_index", name="uq_runs_record"),
        sqlite_autoincrement=True,   # a deleted run's id is never reused (profiles cite run ids)
    )


def downgrade() -> None:
    op.drop_table("runs")
