"""The cache shape: one call's split of its input, sums over calls, n/a and partial reporting."""

from __future__ import annotations

from boocode.cache_shape import CacheShape, percent


def test_one_call_splits_its_input_into_read_write_and_uncached() -> None:
    shape = CacheShape.of_call(1000, 600, 100)
    assert (shape.cache_read, shape.cache_write, shape.uncached, shape.input_total) == (600, 100, 300, 1000)
    assert shape.read_share == 0.6
    assert shape.label() == "60%"


def test_not_reported_is_na_not_zero() -> None:
    silent = CacheShape.of_call(1000, None, None)
    assert silent.read_share is None
    assert silent.label() == "n/a"
    assert silent.unreported_input == 1000
    assert "not reported" in silent.text()
    cold = CacheShape.of_call(1000, 0, None)
    assert cold.read_share == 0.0 and cold.label() == "0%"


def test_a_call_without_input_usage_is_not_counted() -> None:
    assert CacheShape.of_call(None, None, None) == CacheShape()
    assert CacheShape().label() == "n/a" and "no calls yet" in CacheShape().text()


def test_aggregates_are_sums_not_averages_of_percentages() -> None:
    big_warm = CacheShape.of_call(9000, 9000, 0)  # 100%
    small_cold = CacheShape.of_call(1000, 0, 1000)  # 0%
    total = big_warm + small_cold
    assert total.read_share == 0.9  # an average of percentages would say 50%
    assert (total.cache_read, total.cache_write, total.uncached, total.calls) == (9000, 1000, 0, 2)


def test_partial_reporting_covers_the_reporting_calls_and_is_marked() -> None:
    total = CacheShape.of_call(1000, 250, 0) + CacheShape.of_call(3000, None, None)
    assert total.partial
    assert total.read_share == 0.25
    assert total.label() == "25%*"
    assert total.unreported_input == 3000
    assert "cache reported by 1 of 2 calls; 3000 more input tokens unreported" in total.text()


def test_text_has_the_badge_numbers() -> None:
    shape = CacheShape.of_call(1200, 800, 0) + CacheShape.of_call(1000, 0, 800)
    assert shape.text() == ("cache 36% read: 800 read + 800 write + 600 uncached = 2200 input tokens")
    assert shape.as_json()["label"] == "36%"
    assert shape.brief() == "cache 36% (800 read + 800 write + 600 uncached)"
    assert CacheShape.of_call(10, None, None).brief() == "cache n/a"


def test_percent_rounds_halves_up_like_the_web_ui() -> None:
    assert [percent(x) for x in (0.125, 0.005, 0.994, 0.995, 1.0)] == [13, 1, 99, 100, 100]
