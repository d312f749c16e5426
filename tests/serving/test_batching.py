"""Cross-request batching: who shares a model call, and what each request gets back."""

import asyncio
import threading

import numpy as np
import pytest

from mlpipe.serving.batching import Overloaded, PredictBatcher
from mlpipe.serving.model import FeatureColumns


class RowModel:
    """Answers each row's own number (so a mixed-up split shows), records its calls, and can be
    held inside a call to let requests queue up behind it."""

    def __init__(self, name="m"):
        self.name = name
        self.calls = []
        self.release = threading.Event()
        self.release.set()
        self.inside = threading.Event()

    def infer(self, model, rows):
        assert model is self
        self.calls.append([row["n"] for row in rows])
        self.inside.set()
        self.release.wait(10)
        if any(row.get("poison") for row in rows):
            raise ValueError("cannot score a poisoned row")
        return {"value": np.array([[row["n"] * 10.0] for row in rows]),
                "name": np.array([self.name] * len(rows))}


async def _in_thread(function, *args):
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def _rows(*numbers, **extra):
    return [{"n": n, **extra} for n in numbers]


async def _with_batcher(infer, max_rows, body):
    batcher = PredictBatcher(infer, max_rows, _in_thread)
    batcher.start()
    try:
        return await body(batcher)
    finally:
        await batcher.stop()


async def _queue_behind_a_held_call(batcher, model, requests):
    """The first request enters the model and is held there; the others arrive meanwhile."""
    model.release.clear()
    first = asyncio.ensure_future(batcher.predict(*requests[0]))
    while not model.inside.is_set():
        await asyncio.sleep(0.001)
    rest = [asyncio.ensure_future(batcher.predict(*request)) for request in requests[1:]]
    await asyncio.sleep(0.05)
    model.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_a_lone_request_is_called_at_once_and_gets_its_rows():
    model = RowModel()

    async def body(batcher):
        return await asyncio.wait_for(batcher.predict(model, _rows(1, 2)), 5)

    outputs = asyncio.run(_with_batcher(model.infer, 100, body))
    assert model.calls == [[1, 2]]
    np.testing.assert_array_equal(outputs["value"], [[10.0], [20.0]])


def test_requests_that_arrive_during_a_call_share_the_next_one():
    model = RowModel()
    requests = [(model, _rows(1)), (model, _rows(2, 3)), (model, _rows(4)), (model, _rows(5, 6))]

    async def body(batcher):
        return await _queue_behind_a_held_call(batcher, model, requests)

    answers = asyncio.run(_with_batcher(model.infer, 100, body))
    assert model.calls == [[1], [2, 3, 4, 5, 6]]
    for (_, rows), outputs in zip(requests, answers):
        np.testing.assert_array_equal(outputs["value"][:, 0], [row["n"] * 10.0 for row in rows])


def test_a_batch_stays_within_max_rows_and_keeps_arrival_order():
    model = RowModel()
    requests = [(model, _rows(0))] + [(model, _rows(n, n + 100)) for n in range(1, 6)]

    async def body(batcher):
        return await _queue_behind_a_held_call(batcher, model, requests)

    answers = asyncio.run(_with_batcher(model.infer, 4, body))
    assert model.calls == [[0], [1, 101, 2, 102], [3, 103, 4, 104], [5, 105]]
    assert all(not isinstance(answer, BaseException) for answer in answers)


def test_versions_are_never_mixed_in_one_call():
    old, new = RowModel("old"), RowModel("new")

    def infer(model, rows):
        return model.infer(model, rows)

    requests = [(old, _rows(1)), (old, _rows(2)), (new, _rows(3)), (old, _rows(4))]

    async def body(batcher):
        return await _queue_behind_a_held_call(batcher, old, requests)

    answers = asyncio.run(_with_batcher(infer, 100, body))
    # 4 shares the call of 2 (same version) over 3, which goes next: interleaved versions (a
    # canary beside the stable one) still batch.
    assert old.calls == [[1], [2, 4]] and new.calls == [[3]]
    assert [list(answer["name"]) for answer in answers] == [["old"], ["old"], ["new"], ["old"]]


def test_kinds_of_input_are_never_mixed_and_columns_are_joined_per_feature():
    """Serialized rows (lists) and feature columns (FeatureColumns) giving different features
    each go in their own calls; requests of one kind still share one."""
    model = RowModel()

    def infer(model, given):
        if isinstance(given, list):
            return model.infer(model, given)
        model.calls.append(sorted(given.columns))
        return {"value": given.columns["n"][:, np.newaxis] * 10.0,
                "name": np.array([model.name] * len(given))}

    def columns(*numbers, **extra):
        return FeatureColumns({"n": np.array(numbers, float),
                               **{name: np.zeros(len(numbers)) for name in extra}})

    requests = [(model, _rows(1)), (model, columns(2, 3)), (model, _rows(4)),
                (model, columns(5, fare=1)), (model, columns(6))]

    async def body(batcher):
        return await _queue_behind_a_held_call(batcher, model, requests)

    answers = asyncio.run(_with_batcher(infer, 100, body))
    assert model.calls == [[1], ["n"], [4], ["fare", "n"]]
    for (_, given), outputs in zip(requests, answers):
        numbers = [row["n"] for row in given] if isinstance(given, list) else given.columns["n"]
        np.testing.assert_array_equal(outputs["value"][:, 0], np.array(numbers) * 10.0)


def test_a_failing_batch_is_retried_one_request_at_a_time():
    model = RowModel()
    requests = [(model, _rows(1)), (model, _rows(2)), (model, _rows(3, poison=True)),
                (model, _rows(4))]

    async def body(batcher):
        return await _queue_behind_a_held_call(batcher, model, requests)

    answers = asyncio.run(_with_batcher(model.infer, 100, body))
    assert model.calls == [[1], [2, 3, 4], [2], [3], [4]]
    assert isinstance(answers[2], ValueError)
    assert [answer["value"][0, 0] for i, answer in enumerate(answers) if i != 2] == [
        10.0, 20.0, 40.0]


def test_a_request_whose_client_left_is_not_scored():
    model = RowModel()

    async def body(batcher):
        model.release.clear()
        first = asyncio.ensure_future(batcher.predict(model, _rows(1)))
        while not model.inside.is_set():
            await asyncio.sleep(0.001)
        gone = asyncio.ensure_future(batcher.predict(model, _rows(2)))
        kept = asyncio.ensure_future(batcher.predict(model, _rows(3)))
        await asyncio.sleep(0.01)
        gone.cancel()
        model.release.set()
        return await asyncio.gather(first, kept)

    first, kept = asyncio.run(_with_batcher(model.infer, 100, body))
    assert model.calls == [[1], [3]]
    assert kept["value"][0, 0] == 30.0


def test_stop_fails_the_waiting_requests_instead_of_leaving_them_hanging():
    model = RowModel()

    async def body():
        batcher = PredictBatcher(model.infer, 100, _in_thread)
        batcher.start()
        model.release.clear()
        running = asyncio.ensure_future(batcher.predict(model, _rows(1)))
        while not model.inside.is_set():
            await asyncio.sleep(0.001)
        waiting = asyncio.ensure_future(batcher.predict(model, _rows(2)))
        await asyncio.sleep(0.01)
        await batcher.stop()
        model.release.set()
        return await asyncio.gather(running, waiting, return_exceptions=True)

    running, waiting = asyncio.run(asyncio.wait_for(body(), 10))
    for outcome in (running, waiting):
        assert isinstance(outcome, RuntimeError) and "shutting down" in str(outcome)


@pytest.mark.parametrize("max_rows", [1, 3])
def test_a_request_larger_than_max_rows_is_called_alone(max_rows):
    model = RowModel()

    async def body(batcher):
        return await batcher.predict(model, _rows(1, 2, 3, 4))

    outputs = asyncio.run(_with_batcher(model.infer, max_rows, body))
    assert model.calls == [[1, 2, 3, 4]] and len(outputs["value"]) == 4


def test_a_model_answer_of_the_wrong_length_fails_the_request_not_the_batcher():
    model = RowModel()

    def short_once(model_, rows):
        outputs = model.infer(model_, rows)
        if len(model.calls) > 1:
            return outputs
        return {name: values[:-1] for name, values in outputs.items()}

    async def body(batcher):
        failed = await asyncio.gather(batcher.predict(model, _rows(1, 2)),
                                      return_exceptions=True)
        again = await asyncio.wait_for(batcher.predict(model, _rows(3)), 5)
        return failed[0], again

    failed, again = asyncio.run(_with_batcher(short_once, 100, body))
    assert isinstance(failed, ValueError) and "answered 1 rows of 'value' for 2" in str(failed)
    assert again["value"][0, 0] == 30.0


def test_a_full_queue_refuses_at_once_and_takes_requests_again_once_it_drains():
    """The queue holds 5 rows: while a call runs, 2 + 3 rows wait, the next request is refused
    without waiting for the model; the waiting ones are answered; then requests get in again.
    The running call's rows do not count: they are no longer waiting."""
    model = RowModel()

    async def body():
        batcher = PredictBatcher(model.infer, 100, _in_thread, max_queued_rows=5)
        batcher.start()
        try:
            model.release.clear()
            running = asyncio.ensure_future(batcher.predict(model, _rows(*range(10, 20))))
            while not model.inside.is_set():
                await asyncio.sleep(0.001)
            waiting = [asyncio.ensure_future(batcher.predict(model, _rows(*numbers)))
                       for numbers in ((1, 2), (3, 4, 5))]
            await asyncio.sleep(0.01)
            started = asyncio.get_running_loop().time()
            with pytest.raises(Overloaded, match="5 rows are already waiting"):
                await batcher.predict(model, _rows(6))
            refused_in = asyncio.get_running_loop().time() - started
            model.release.set()
            answers = await asyncio.gather(running, *waiting)
            after = await batcher.predict(model, _rows(7))
            return refused_in, answers, after
        finally:
            await batcher.stop()

    refused_in, answers, after = asyncio.run(asyncio.wait_for(body(), 10))
    assert refused_in < 0.05
    assert [list(answer["value"][:, 0]) for answer in answers[1:]] == [[10.0, 20.0],
                                                                       [30.0, 40.0, 50.0]]
    np.testing.assert_array_equal(after["value"], [[70.0]])


def test_one_request_larger_than_the_queue_runs_when_nothing_waits():
    model = RowModel()

    async def run():
        batcher = PredictBatcher(model.infer, 100, _in_thread, max_queued_rows=3)
        batcher.start()
        try:
            return await batcher.predict(model, _rows(*range(8)))
        finally:
            await batcher.stop()

    outputs = asyncio.run(asyncio.wait_for(run(), 10))
    assert len(outputs["value"]) == 8


def test_a_small_request_on_an_idle_model_is_called_on_the_loop_and_others_still_batch():
    model, threads = RowModel(), []

    def infer(given, rows):
        threads.append(threading.current_thread())
        return model.infer(given, rows)

    async def body(batcher):
        alone = await batcher.predict(model, _rows(1))
        big = await batcher.predict(model, _rows(2, 3))
        return alone, big

    async def run():
        batcher = PredictBatcher(infer, 100, _in_thread, inline_rows=1)
        batcher.start()
        try:
            return await body(batcher)
        finally:
            await batcher.stop()

    alone, big = asyncio.run(run())
    assert threads[0] is threading.main_thread() and threads[1] is not threading.main_thread()
    assert list(alone["value"][:, 0]) == [10.0] and list(big["value"][:, 0]) == [20.0, 30.0]
    assert model.calls == [[1], [2, 3]]
