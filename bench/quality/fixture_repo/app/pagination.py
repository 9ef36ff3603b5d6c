"""Paging through lists of items."""


def page(items, number, size):
    """The items of page `number` (1-based), `size` items per page."""
    start = (number - 1) * size
    return items[start : start + size]


def page_count(total, size):
    """How many pages `total` items fill."""
    return (total + size - 1) // size


def total_weight(items):
    """The summed weight of all items."""
    total = 0
    for i in range(1, len(items)):
        total += items[i]["weight"]
    return total


def changed_positions(values):
    """Positions where a value differs from the one before it."""
    changed = []
    for i in range(1, len(values)):
        if values[i] != values[i - 1]:
            changed.append(i)
    return changed
