"""The sync threads' queue: directories take turns, one thread per directory at a time."""

from __future__ import annotations

from lockstep.m365.sync_threads import DirectoryQueue


def test_directories_take_turns_and_one_with_work_goes_to_the_back() -> None:
    queue = DirectoryQueue()
    queue.offer([1, 2, 3])
    assert queue.take(0) == 1
    queue.done(1, again=True)  # found work: another round, after the others
    assert queue.waiting() == [2, 3, 1]


def test_a_directory_is_never_in_two_threads_and_an_offer_while_busy_is_kept() -> None:
    queue = DirectoryQueue()
    queue.offer([7])
    assert queue.take(0) == 7
    queue.offer([7])  # a wake-up while its round runs: not handed to a second thread ...
    assert queue.take(0) is None
    queue.done(7, again=False)  # ... but it gets one more round when this one ends
    assert queue.take(0) == 7
    queue.done(7, again=False)
    assert queue.waiting() == []


def test_an_idle_directory_waits_for_the_next_offer_and_is_queued_once() -> None:
    queue = DirectoryQueue()
    queue.offer([4, 4])
    assert queue.waiting() == [4]
    assert queue.take(0) == 4
    queue.done(4, again=False)
    assert queue.waiting() == []
