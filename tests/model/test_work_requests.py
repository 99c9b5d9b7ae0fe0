"""The model thread's typed requests (model/work/requests.py) and their handlers
(model/work/probes.py): one handler per request type, one mailbox slot per type."""

from __future__ import annotations

import dataclasses

import pytest

from model.work import probes
from model.work import requests as rq


def test_every_analysis_has_exactly_one_handler_of_its_kind_and_a_slot_of_its_own():
    for cls in rq.ANALYSES:
        assert (cls in probes.HANDLERS) != (cls in probes.JOB_HANDLERS), cls.__name__
        assert (cls in probes.JOB_HANDLERS) == cls.job, cls.__name__
    assert set(probes.HANDLERS) | set(probes.JOB_HANDLERS) == set(rq.ANALYSES)  # none handled but unlisted
    slots = [cls.slot for cls in rq.ANALYSES]
    assert all(slots) and len(set(slots)) == len(slots)  # a newer request replaces only one of its own type


def test_requests_are_frozen_and_their_heads_sorted():
    request = rq.Ablate("a b", heads=((2, 1), (0, 3)), mode="mean")
    assert request.heads == ((0, 3), (2, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.mode = "zero"
    assert request == rq.Ablate("a b", heads=[(0, 3), (2, 1)], mode="mean")  # equal requests compare equal


def test_a_second_handler_or_a_job_flag_that_disagrees_is_refused_when_registered():
    with pytest.raises(TypeError, match="has a handler already"):
        probes.handles(rq.Lens)(lambda *a: None)
    lens_handler = probes.HANDLERS[rq.Lens]

    @dataclasses.dataclass(frozen=True)
    class LongOne(rq.Analysis):
        slot = "long_one"
        job = True

    with pytest.raises(TypeError, match="LongOne.job is True, its handler's False"):
        probes.handles(LongOne)(lambda *a: None)
    assert probes.HANDLERS[rq.Lens] is lens_handler and LongOne not in probes.HANDLERS  # nothing registered


def test_a_request_no_handler_takes_is_a_clear_error():
    @dataclasses.dataclass(frozen=True)
    class Unknown(rq.Analysis):
        slot = "unknown"

    with pytest.raises(ValueError, match="no one-step analysis handles Unknown"):
        probes.run(None, Unknown("x"))
    with pytest.raises(ValueError, match="no long job handles Unknown"):
        probes.job_steps(None, Unknown("x"))
