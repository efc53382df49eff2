"""The order pytest-xdist hands out test files: the longest single test first.

What: ``--dist loadfile`` (pyproject's ``addopts``) gives each worker whole files, largest file (by
number of tests) first. ``tests/test_static.py`` has three tests, so it was handed out near the end;
its pyright run is the longest single test of the suite (~50 s of one core) and cannot be split, so the
other worker idled while it finished. Handed out first, it runs beside everything else (longest
processing time first). Every other file keeps xdist's order.

Gotchas: ``pytest_xdist_make_scheduler`` runs in the controlling process only, and the scheduler keeps
its queue in ``workqueue`` (an ``OrderedDict`` it fills with ``[]=`` and takes from with
``popitem(last=False)``; pytest-xdist 3.8.0, ``xdist/scheduler/loadscope.py``): the queue here moves the
named files to the front as they are put in. Without ``-n`` (or with another ``--dist``) nothing changes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

FIRST = ("tests/test_static.py",)
"""File scopes (node id prefixes) handed out before all others, in this order."""


class _FirstOrderedQueue(OrderedDict[str, Any]):
    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if key in FIRST:
            self.move_to_end(key, last=False)
            for earlier in reversed(FIRST[: FIRST.index(key)]):
                if earlier in self:
                    self.move_to_end(earlier, last=False)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    scheduler = LoadFileScheduling(config, log)
    scheduler.workqueue = _FirstOrderedQueue()
    return scheduler
