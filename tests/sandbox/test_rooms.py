"""The sandbox's rooms on their own: the phase's legal moves, and how output becomes lines."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import pytest

from lambda_sandbox._phase import TRANSITIONS, Lifecycle, Phase, PhaseError
from lambda_sandbox._processes import OutputReader
from lambda_sandbox._records import FRAME_MAGIC, LineBuffer, Recorder


def _frame(message: bytes, level: int = 0x03) -> bytes:
    """One of awslambdaric's log frames (``FramedTelemetryLogSink``)."""
    return (
        FRAME_MAGIC
        + bytes([level])
        + len(message).to_bytes(4, "big")
        + (1_764_000_000_000_000).to_bytes(8, "big")
        + message
    )


def test_every_phase_has_its_moves_and_closed_is_final() -> None:
    assert set(TRANSITIONS) == set(Phase)
    assert TRANSITIONS[Phase.CLOSED] == frozenset()
    assert all(Phase.CLOSED in TRANSITIONS[p] for p in Phase if p is not Phase.CLOSED)


def test_a_move_the_table_does_not_allow_raises() -> None:
    lifecycle = Lifecycle()
    with pytest.raises(PhaseError, match="new cannot move to invoke"):
        lifecycle.move_to(Phase.INVOKE)
    for phase in (Phase.INIT, Phase.READY, Phase.INVOKE, Phase.READY, Phase.SHUTDOWN):
        lifecycle.move_to(phase)
    assert not lifecycle.ready
    with pytest.raises(PhaseError):
        lifecycle.move_to(Phase.INVOKE)  # a torn-down environment initialises first
    lifecycle.move_to(Phase.CLOSED)
    with pytest.raises(PhaseError):
        lifecycle.move_to(Phase.INIT)


def test_ready_means_initialised_and_not_torn_down() -> None:
    lifecycle = Lifecycle()
    seen = {}
    for phase in (Phase.INIT, Phase.READY, Phase.INVOKE, Phase.SHUTDOWN):
        lifecycle.move_to(phase)
        seen[phase] = lifecycle.ready
    assert seen == {
        Phase.INIT: False,
        Phase.READY: True,
        Phase.INVOKE: True,
        Phase.SHUTDOWN: False,
    }


def test_text_lines_end_at_their_newline_across_chunks() -> None:
    lines = LineBuffer()
    assert lines.feed(b"one\ntw") == ["one"]
    assert lines.feed(b"o\n") == ["two"]
    assert lines.feed(b"three") == []
    assert lines.rest() == "three"
    assert lines.rest() is None


def test_a_frame_ends_where_its_length_says_even_without_a_newline() -> None:
    record = b"[ERROR]\tlookup failed\nTraceback (most recent call last):\nTypeError: x"
    lines = LineBuffer(frames=True)
    stream = _frame(record, 0x17) + _frame(b"[ERROR]\tafter\n", 0x17)
    assert lines.feed(stream) == [
        "[ERROR]\tlookup failed",
        "Traceback (most recent call last):",
        "TypeError: x",
        "[ERROR]\tafter",
    ]
    assert lines.rest() is None


def test_frames_and_printed_text_interleave_in_order_byte_by_byte() -> None:
    stream = b"printed\n" + _frame(b"logged\n") + b"no newline" + _frame(b"next") + b"tail\n"
    lines = LineBuffer(frames=True)
    out: list[str] = []
    for i in range(len(stream)):  # the worst split: every byte its own read
        out += lines.feed(stream[i : i + 1])
    assert out == ["printed", "logged", "no newline", "next", "tail"]
    assert lines.rest() is None


def test_without_frames_the_magic_bytes_are_just_bytes() -> None:
    lines = LineBuffer()
    assert lines.feed(_frame(b"x") + b"\n") == [(_frame(b"x")).decode("utf-8", "replace")]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def _lines(recorder: Recorder) -> list[str]:
    return [r["line"] for r in recorder.records if r["event"] == "log"]


def test_drain_passes_on_what_is_in_the_pipe_though_the_thread_never_ran(
    pipe: tuple[int, int],
) -> None:
    recorder = Recorder(None, prefix_logs=False, records_path=None)
    reader = OutputReader(pipe[0], "function", recorder, frames=False)
    os.write(pipe[1], b'quoted\n{"_aws": {}}\n')
    reader.drain()
    assert _lines(recorder) == ["quoted", '{"_aws": {}}']


def test_every_line_written_before_a_drain_is_passed_on_when_it_returns(
    pipe: tuple[int, int],
) -> None:
    """The invocation's last line, written just before its response, is in its logs: with the
    reader's thread racing the drain (a thousand times), none is missed."""
    recorder = Recorder(None, prefix_logs=False, records_path=None)
    reader = OutputReader(pipe[0], "function", recorder, frames=False)
    thread = threading.Thread(target=reader.run, daemon=True)
    thread.start()
    for n in range(1000):
        os.write(pipe[1], f"line {n}\n".encode())
        reader.drain()
        assert _lines(recorder)[-1:] == [f"line {n}"], f"line {n} not passed on by drain"
    os.write(pipe[1], b"no newline at the end")
    os.close(pipe[1])
    thread.join(timeout=5)
    assert not thread.is_alive(), "the reader's thread did not end at the pipe's end"
    assert _lines(recorder)[-1] == "no newline at the end"
