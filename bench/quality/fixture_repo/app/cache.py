"""Counters and tags shared between request threads."""

import threading


class HitCounter:
    """Counts hits per key; `incr` is called from many threads at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def incr(self, key):
        with self.lock:
            value = self.counts.get(key, 0)
        self.counts[key] = value + 1

    def get(self, key):
        with self.lock:
            return self.counts.get(key, 0)


def add_tag(tag, tags=[]):
    """Add `tag` to `tags` (a new list when none is given) and return the list."""
    tags.append(tag)
    return tags


def add_label(label, labels=None):
    """Add `label` to `labels` (a new list when none is given) and return the list."""
    labels = [] if labels is None else labels
    labels.append(label)
    return labels
