"""RDED: teacher-chosen real segments with the teacher's soft labels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench.artefacts.teacher_index import publish_teacher
from bench.artefacts.teachers import TeacherParams
from bench.errors import UserError
from bench.session import Session
from bench.techniques import Budget, DistillContext
from bench.techniques.registry import get_technique
from tests.test_data_free import DATA_FREE_PARAMS


@pytest.fixture
def session(make_session) -> Session:
    return make_session(DATA_FREE_PARAMS)


def _rded(session, teacher=None, **params):
    cls = get_technique("rded")
    method = cls(cls.configure("quick", params), DistillContext(model=session.profile.model))
    if teacher is not None:
        method.use_teacher(teacher)
    return method


@pytest.fixture
def teacher(session):
    features = session.features("synthetic")
    settings = (session.profile.model, session.profile.protocol, session.device, session.cache_dir)
    return publish_teacher(features, TeacherParams(epochs=5), *settings)


def test_whole_clip_rded_keeps_the_clips_the_teacher_is_surest_of_each_once(session, teacher):
    features = session.features("synthetic")
    train = features.training_splits().train
    result = _rded(session, teacher, factor=1, candidates=20).run(features, 3, 0, Budget(), session.device)
    assert result.x.shape == (12, *features.shape) and torch.allclose(result.soft.sum(dim=1), torch.ones(12))
    for c in range(features.num_classes):
        members = train.x[train.y == c]
        confidence = -F.cross_entropy(teacher.logits(members), torch.full((len(members),), c), reduction="none")
        best = members[confidence.argsort(descending=True)[:3]]  # 20 x 3 candidates cover all 18 clips of a class
        assert torch.equal(result.x[result.y == c], best)


def test_stitched_items_are_real_segments_side_by_side_and_the_draw_follows_the_seed(session, teacher):
    features = session.features("synthetic")
    train_x = features.training_splits().train.x
    method = _rded(session, teacher, factor=2, candidates=3)
    result = method.run(features, 2, 0, Budget(), session.device)
    width = features.shape[-1] // 2
    crops = {
        tuple(train_x[i, ..., s : s + width].flatten().tolist()) for i in range(len(train_x)) for s in range(width + 1)
    }
    for item in result.x:
        assert tuple(item[..., :width].flatten().tolist()) in crops
        assert tuple(item[..., width:].flatten().tolist()) in crops
    assert torch.equal(method.run(features, 2, 0, Budget(), session.device).x, result.x)
    assert not torch.equal(method.run(features, 2, 1, Budget(), session.device).x, result.x)


def test_rded_needs_a_teacher_and_a_factor_that_divides_the_frames(session, teacher):
    features = session.features("synthetic")
    with pytest.raises(UserError, match="rded distils with a teacher"):
        _rded(session).run(features, 1, 0, Budget(), session.device)
    with pytest.raises(UserError, match="factor: 3 does not divide the items' 16 frames"):
        _rded(session, teacher, factor=3).run(features, 1, 0, Budget(), session.device)
