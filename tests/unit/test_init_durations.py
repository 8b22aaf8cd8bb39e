"""The record of sam local's cold starts that `make bench` shows: written, read back, dated, matched to a commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tools.init_durations import InitDurations, source_revision


def record(measured_at: str = "2026-12-01T15:00:00+00:00") -> InitDurations:
    return InitDurations(
        measured_at=measured_at,
        revision="5a7e1c8d0f12",
        architecture="x86_64",
        image="public.ecr.aws/lambda/python:3.13-x86_64",
        load_average=3.5,
        init_ms={"GetOrderFunction": [0.03, 0.05, 0.04]},
        cold_invoke_ms={"GetOrderFunction": [1672.7, 1500.0, 1900.2]},
    )


def test_a_record_reads_back_as_it_was_written(tmp_path: Path) -> None:
    written = record().write(tmp_path / "nested" / "record.json")

    assert InitDurations.read(written) == record()


def test_without_a_record_there_is_nothing_to_show(tmp_path: Path) -> None:
    assert InitDurations.read(tmp_path / "absent.json") is None


def test_each_function_is_shown_by_its_median_and_a_function_never_run_by_none() -> None:
    assert record().median_init_ms("GetOrderFunction") == 0.04
    assert record().median_cold_invoke_ms("GetOrderFunction") == 1672.7
    assert record().median_init_ms("PlaceOrderFunction") is None


def test_a_records_age_is_from_its_measurement() -> None:
    now = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    assert record().age(now) == timedelta(hours=2, minutes=30)


def test_the_revision_names_the_checked_out_commit() -> None:
    revision = source_revision()
    assert revision == "unknown" or len(revision.removesuffix("+changes")) == 12
