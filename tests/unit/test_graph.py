"""The wait graph turns cycles into errors that name the cycle."""

from dataclasses import dataclass

import pytest

from lambda_warmup import InitCycleError
from lambda_warmup._graph import WaitGraph


@dataclass(frozen=True)
class Node:
    name: str


A, B, C = Node("a"), Node("b"), Node("c")


def test_self_wait():
    with pytest.raises(InitCycleError, match="init 'a' awaits its own handle") as caught:
        WaitGraph().enter(A, A)
    assert caught.value.cycle == ("a", "a")


def test_three_cycle_named_in_order():
    graph = WaitGraph()
    graph.enter(A, B)
    graph.enter(B, C)
    with pytest.raises(InitCycleError, match=r"c -> a -> b -> c"):
        graph.enter(C, A)


def test_leaving_removes_the_edge():
    graph = WaitGraph()
    graph.enter(A, B)
    graph.leave(A, B)
    graph.enter(B, A)  # no cycle any more


def test_two_waits_on_the_same_handle_count():
    graph = WaitGraph()
    graph.enter(A, B)
    graph.enter(A, B)
    graph.leave(A, B)
    with pytest.raises(InitCycleError):
        graph.enter(B, A)
