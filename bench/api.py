"""The public plug-in API: everything a technique, track, model, reference or dataset plug-in needs, in one
import. Code outside this repository should import from here only; the modules behind it may move.

Register a plug-in through its package's entry points (``distrackted.techniques``, ``distrackted.tracks``,
``distrackted.models``, ``distrackted.references``, ``distrackted.datasets``, ``distrackted.decoders``,
``distrackted.embedders``);
CONTRIBUTING.md has a complete example."""

from bench.data.audio import read_audio
from bench.data.clips import Clip, ClipIndex, hash_split
from bench.data.registry import DatasetAdapter, DatasetInfo
from bench.embedders.base import Embedder
from bench.errors import DataError, UserError
from bench.evaluation.protocol import evaluate_set, train_network
from bench.evaluation.tracks import Track, TrackContext, TrackResult
from bench.evaluation.tracks.probe import ProbeTrack
from bench.features.store import FeatureSet, TrainingSplits
from bench.models import ModelFamily, ModelSpec, Network, build_model
from bench.sets.decoders import Decoder
from bench.sets.files import LabelledSet
from bench.sets.references import Reference, random_real_subset
from bench.techniques import Budget, DistillContext, DistilledSet, Technique
from bench.techniques.augment import AugmentParams, augment
from bench.techniques.base import Cost
from bench.techniques.data_free import DataFreeTechnique
from bench.techniques.loop import Learnables, iteration_generator, iteration_seed
from bench.techniques.matching import finish, run_loop
from bench.techniques.sampling import ClassSampler
from bench.typed import ranged

__all__ = [
    "AugmentParams",
    "Budget",
    "ClassSampler",
    "Clip",
    "ClipIndex",
    "Cost",
    "DataError",
    "DataFreeTechnique",
    "DatasetAdapter",
    "DatasetInfo",
    "Decoder",
    "DistillContext",
    "DistilledSet",
    "Embedder",
    "FeatureSet",
    "LabelledSet",
    "Learnables",
    "ModelFamily",
    "ModelSpec",
    "Network",
    "ProbeTrack",
    "Reference",
    "Technique",
    "Track",
    "TrackContext",
    "TrackResult",
    "TrainingSplits",
    "UserError",
    "augment",
    "build_model",
    "evaluate_set",
    "finish",
    "hash_split",
    "iteration_generator",
    "iteration_seed",
    "random_real_subset",
    "ranged",
    "read_audio",
    "run_loop",
    "train_network",
]
