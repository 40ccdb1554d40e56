"""Imports on both databases: idempotent, all or nothing, every bad row reported with its
line and reason, nothing written on bad input, SQL-looking text stored verbatim."""

from __future__ import annotations

import json
from datetime import date

import pytest
from test_market_helpers import (  # noqa: F401
    QUOTES_HEADER,
    TODAY,
    count,
    db,
    db_url,
    no_user_db,
    quote_line,
    quotes_csv,
    write,
)

from suanli.market import query
from suanli.market.errors import ImportRejected
from suanli.market.export import export_text
from suanli.market.ingest import import_file


def rejected(db, path, **kw) -> ImportRejected:
    before = count(db, "quotes"), count(db, "events"), count(db, "imports")
    with pytest.raises(ImportRejected) as info:
        import_file(db, path, today=TODAY, **kw)
    assert (count(db, "quotes"), count(db, "events"), count(db, "imports")) == before, "something was written"
    return info.value


# --- idempotence and dry runs -----------------------------------------------------------------

def test_import_then_reimport_adds_nothing(db, tmp_path):
    f = quotes_csv(tmp_path / "q.csv", range(50))
    first = import_file(db, f, today=TODAY)
    assert (first.rows, first.added) == (50, 50)
    again = import_file(db, f, today=TODAY)
    assert (again.rows, again.added, again.duplicates) == (50, 0, 50)
    assert count(db, "quotes") == 50
    assert count(db, "imports") == 2  # the log records both attempts


def test_overlapping_file_adds_only_new_rows(db, tmp_path):
    import_file(db, quotes_csv(tmp_path / "a.csv", range(0, 30)), today=TODAY)
    res = import_file(db, quotes_csv(tmp_path / "b.csv", range(20, 40)), today=TODAY)
    assert res.added == 10 and count(db, "quotes") == 40


def test_duplicate_rows_within_one_file_are_stored_once(db, tmp_path):
    f = write(tmp_path / "d.csv", QUOTES_HEADER + quote_line(1) + quote_line(1) + quote_line(2))
    assert import_file(db, f, today=TODAY).added == 2


def test_dry_run_writes_nothing_but_counts(db, tmp_path):
    import_file(db, quotes_csv(tmp_path / "a.csv", range(10)), today=TODAY)
    res = import_file(db, quotes_csv(tmp_path / "b.csv", range(5, 25)), today=TODAY, dry_run=True)
    assert res.dry_run and (res.rows, res.added) == (20, 15)
    assert count(db, "quotes") == 10 and count(db, "imports") == 1


# --- all or nothing ---------------------------------------------------------------------------

def test_one_bad_row_rejects_the_file_and_every_bad_row_is_listed(db, tmp_path):
    lines = [quote_line(i) for i in range(6)]
    lines[1] = "2025-03-03,H20,chip,x,abc,CNY,per_chip,dealer,CN,src,medium,\n"        # line 3
    lines[3] = "2025-03-03,H20,chip,x,100,XYZ,per_chip,dealer,CN,src,medium,\n"        # line 5
    lines[4] = "2099-01-01,H20,chip,x,100,CNY,per_chip,dealer,CN,src,medium,\n"        # line 6
    exc = rejected(db, write(tmp_path / "bad.csv", QUOTES_HEADER + "".join(lines)))
    found = {p.line: p.reason for p in exc.problems}
    assert set(found) == {3, 5, 6}
    assert "not a number" in found[3]
    assert "unknown currency 'XYZ'" in found[5]
    assert "in the future" in found[6] and TODAY.isoformat() in found[6]
    assert count(db, "quotes") == 0


def test_all_problems_of_one_row_are_given(db, tmp_path):
    f = write(tmp_path / "r.csv", QUOTES_HEADER + "2025-13-01,H20,chip,x,-3,CNY,per_chip,smuggler,CN,,medium,\n")
    reason = rejected(db, f).problems[0].reason
    for needle in ("does not exist", "price must be > 0", "unknown channel", "source is missing"):
        assert needle in reason


def test_file_already_partly_stored_stays_unchanged_on_rejection(db, tmp_path):
    import_file(db, quotes_csv(tmp_path / "a.csv", range(5)), today=TODAY)
    bad = write(tmp_path / "b.csv", QUOTES_HEADER + quote_line(10) + "2025-01-01,H20,chip,x,1e999,CNY,per_chip,"
                                                               "dealer,CN,s,medium,\n")
    exc = rejected(db, bad)
    assert exc.problems[0].line == 3 and "finite" in exc.problems[0].reason
    assert count(db, "quotes") == 5


@pytest.mark.parametrize(("content", "line", "needle"), [
    (QUOTES_HEADER + '2025-01-01,"H20\n', 2, "malformed CSV"),                  # unclosed quote
    (QUOTES_HEADER + "2025-01-01,H20,chip\n", 2, "3 fields, the header has 12"),
    ("", 1, "no header"),
    (QUOTES_HEADER, 1, "no data rows"),
    ("date,item,colour\n2025-01-01,H20,red\n", 1, "unknown column 'colour'"),
    ("date,item,price\n2025-01-01,H20,5\n", 1, "missing required columns"),
    (QUOTES_HEADER + "2025-03-03,H20,chip,x,100,CNY,per_server,dealer,CN,s,medium,\n", 2, "does not fit kind"),
    (QUOTES_HEADER + "03/03/2025,H20,chip,x,100,CNY,per_chip,dealer,CN,s,medium,\n", 2, "is not YYYY-MM-DD"),
    (QUOTES_HEADER + "2025-03-03,H20,chip,x,\"1,200\",CNY,per_chip,dealer,CN,s,medium,\n", 2, "not a number"),
    (QUOTES_HEADER + "2025-03-03,H20,chip,x,100,CNY,per_chip,dealer,CN,s,certain,\n", 2, "unknown confidence"),
])
def test_malformed_files_are_rejected_with_line_and_reason(db, tmp_path, content, line, needle):
    exc = rejected(db, write(tmp_path / "m.csv", content))
    assert any(p.line == line and needle in p.reason for p in exc.problems), exc.problems


def test_multiline_field_keeps_line_numbers_right(db, tmp_path):
    text = (QUOTES_HEADER + '2025-03-03,H20,chip,"two\nlines",100,CNY,per_chip,dealer,CN,s,medium,\n'
            + "2025-03-03,H20,chip,x,oops,CNY,per_chip,dealer,CN,s,medium,\n")
    exc = rejected(db, write(tmp_path / "ml.csv", text))
    assert [p.line for p in exc.problems] == [4]


def test_non_utf8_and_wrong_suffix(db, tmp_path):
    f = tmp_path / "latin.csv"
    f.write_bytes(QUOTES_HEADER.encode() + "2025-03-03,H20,chip,caf\xe9,1,CNY,per_chip,dealer,CN,s,medium,\n"
                  .encode("latin-1"))
    exc = rejected(db, f)
    assert "not UTF-8" in str(exc) and exc.problems[0].line == 2
    # a file that cannot be imported at all is one plain error, not "1 bad row"
    from suanli.errors import InvalidInput
    with pytest.raises(InvalidInput, match="must end in .csv or .json") as info:
        import_file(db, write(tmp_path / "q.xlsx", "x"), today=TODAY)
    assert not isinstance(info.value, ImportRejected)


# --- text is data ----------------------------------------------------------------------------

SQLISH = ["H20'; DROP TABLE quotes; --", 'x" OR 1=1 --', "Robert'); DELETE FROM events;--", "%_\\"]


def test_sql_looking_text_is_stored_verbatim(db, tmp_path):
    def q(text: str) -> str:  # one CSV field
        return '"' + text.replace('"', '""') + '"'

    rows = "".join(f"2025-03-03,{q(s)},chip,{q(s)},{100 + i},CNY,per_chip,dealer,CN,{q(s)},medium,{q(s)}\n"
                   for i, s in enumerate(SQLISH))
    assert import_file(db, write(tmp_path / "s.csv", QUOTES_HEADER + rows), today=TODAY).added == len(SQLISH)
    stored = query.quotes(db)
    assert sorted(q.item for q in stored) == sorted(SQLISH)
    assert all(q.item == q.configuration == q.source == q.notes for q in stored)
    for s in SQLISH:  # a query with the text as a filter matches exactly that row
        assert [q.item for q in query.quotes(db, item=s)] == [s]
    assert count(db, "quotes") == len(SQLISH)


# --- other kinds and JSON -------------------------------------------------------------------

def test_events_with_chips(db, tmp_path):
    f = write(tmp_path / "e.csv", "date,kind,description,chips,region,source\n"
                                  "2025-07-15,licence,H20 sales resume,H20;MI308,CN,https://e.test/1\n"
                                  "2025-08,policy,Buyers told to avoid H20,H20,CN,https://e.test/2\n"
                                  "2025-09-01,supply,Unrelated,B200,CN,https://e.test/3\n")
    assert import_file(db, f, today=TODAY).added == 3
    assert import_file(db, f, today=TODAY).added == 0
    evs = query.events(db, chip="h20")
    assert [e.description for e in evs] == ["H20 sales resume", "Buyers told to avoid H20"]
    assert evs[0].chips == ("H20", "MI308") and evs[1].to_dict()["date"] == "2025-08"
    assert count(db, "event_chips") == 4


def test_leases_and_inventories(db, tmp_path):
    leases = write(tmp_path / "l.csv", "date,item,configuration,units,term_months,price,currency,unit,channel,"
                                       "lessor,lessee,source\n"
                                       "2025-03-01,H100,8x H100 server,10,12,68000,CNY,per_server_month,dealer,"
                                       "A Ltd,B Co,https://l.test\n")
    inv = write(tmp_path / "i.csv", "owner,item,kind,quantity,unit_cost,currency,acquisition_date,financing,"
                                    "financing_rate\n"
                                    "dealer-a,H20 server,server,25,1200000,CNY,2025-04-01,loan,6%\n"
                                    "dealer-a,H20,chip,100,110000,CNY,2025-05-01,cash,0.05\n")
    assert import_file(db, leases, today=TODAY).kinds == {"leases": (1, 1)}
    assert import_file(db, inv, today=TODAY).kinds == {"inventories": (2, 2)}
    assert import_file(db, inv, today=TODAY).added == 0
    lease = query.leases(db, chip="H100")[0]
    assert (lease.gpus, lease.units, lease.term_months, lease.lessee) == (8, 10, 12, "B Co")
    lots = query.inventories(db, owner="dealer-a", chip="H20")
    assert [(lot.kind, lot.gpus, lot.quantity, lot.financing_rate) for lot in lots] == [
        ("server", 8, 25, pytest.approx(0.06)), ("chip", 1, 100, 0.05)]
    assert lots[0].total_gpus == 200 and lots[0].cost_per_gpu == 150000


def test_json_with_several_kinds(db, tmp_path):
    doc = {"quotes": [{"date": "2025-03-03", "item": "H20", "kind": "chip", "price": 105000, "currency": "cny",
                       "unit": "per_chip", "channel": "dealer", "source": "j"}],
           "events": [{"date": "2025-03-04", "kind": "price", "description": "d", "chips": ["H20"], "source": "j"}]}
    f = write(tmp_path / "m.json", json.dumps(doc))
    res = import_file(db, f, today=TODAY)
    assert res.kinds == {"quotes": (1, 1), "events": (1, 1)}
    assert query.quotes(db)[0].currency == "CNY"


def test_json_problems_name_the_record(db, tmp_path):
    doc = {"quotes": [{"date": "2025-03-03", "item": "H20", "kind": "chip", "price": "cheap", "currency": "CNY",
                       "unit": "per_chip", "channel": "dealer", "source": "j"}, "not an object",
                      {"date": "2025-03-03", "colour": "red"}]}
    exc = rejected(db, write(tmp_path / "bad.json", json.dumps(doc)))
    assert [str(p).split(":")[0] for p in exc.problems] == ["quotes record 1", "quotes record 2", "quotes record 3"]
    assert "malformed JSON" in str(rejected(db, write(tmp_path / "broken.json", '{"quotes": [')))


# --- export round trip ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_reimports_as_a_no_op_and_copies_to_another_db(db, tmp_path, fmt):
    from suanli.market.db import open_db

    import_file(db, quotes_csv(tmp_path / "a.csv", range(8)), today=TODAY)
    import_file(db, write(tmp_path / "e.csv", "date,kind,description,chips,source\n2025-01,policy,p,H20;H200,s\n"),
                today=TODAY)
    for kind in ("quotes", "events"):
        out = write(tmp_path / f"{kind}.{fmt}", export_text(db, kind, fmt))
        assert import_file(db, out, today=TODAY).added == 0
        other = open_db(str(tmp_path / f"copy-{kind}.sqlite3"), seed=False)
        import_file(other, out, today=TODAY)
        assert export_text(other, kind, fmt) == export_text(db, kind, fmt)
        other.dispose()


def test_today_defaults_to_the_clock(db, tmp_path):
    future = date.today().replace(year=date.today().year + 1)
    f = write(tmp_path / "f.csv", QUOTES_HEADER + quote_line(1, day=future.isoformat()))
    with pytest.raises(ImportRejected, match="in the future"):
        import_file(db, f)
