"""YAMNet (Google; AudioSet-trained MobileNet-v1; Apache-2.0) through the LiteRT runtime: the 1,024-d
embedding (the global average pool before its classifier) and its 521 AudioSet class scores, averaged over
0.975 s frames taken every 0.48 s, as YAMNet itself frames a clip. The TFLite file comes from the models root,
checked by sha256 (``yamnet/yamnet.tflite`` and ``yamnet/yamnet_class_map.csv``)."""

from __future__ import annotations

import contextlib
import csv
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bench.embedders.base import Embedder
from bench.embedders.registry import EMBEDDERS
from bench.errors import UserError

WINDOW = 15_600  # samples at 16 kHz per call (0.975 s)
HOP = 7_680  # 0.48 s, YAMNet's own frame hop
EMBEDDING_TENSOR = "yamnet_frames/global_average_pooling2d/Mean"


@dataclass(frozen=True)
class YAMNetParams:
    file: str = "yamnet/yamnet.tflite"
    sha256: str = "469be6a3421cbc52cf97e9f2f966cba984198e8e7af9854d68b3e3ebb1e04194"
    class_map: str = "yamnet/yamnet_class_map.csv"


def frames(wave: np.ndarray) -> list[np.ndarray]:
    """0.975 s windows every 0.48 s, the last zero-padded; a clip shorter than one window is one frame."""
    wave = np.asarray(wave, dtype=np.float32)
    starts = range(0, max(len(wave) - WINDOW, 0) + 1, HOP) if len(wave) >= WINDOW else [0]
    out = []
    for start in starts:
        piece = wave[start : start + WINDOW]
        out.append(np.pad(piece, (0, WINDOW - len(piece))))
    return out


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """The TFLite runtime logs from C++ straight to file descriptor 2; keep it off the user's terminal."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@EMBEDDERS.register
class YAMNet(Embedder):
    name = "yamnet"
    description = "YAMNet (AudioSet-trained), 1,024-d embedding and 521 AudioSet class scores, 16 kHz"
    Params = YAMNetParams
    domain = "waveform"
    sample_rate = 16_000

    def __init__(self, params, models_root) -> None:
        super().__init__(params, models_root)
        self._interpreter = None

    def describe(self):
        return {**super().describe(), "runtime": "ai-edge-litert"}

    def _runtime(self):
        if self._interpreter is None:
            path = self.weights(self.params.file, self.params.sha256)
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError as exc:
                raise UserError(
                    "embedder yamnet needs the ai-edge-litert package (pip install ai-edge-litert)"
                ) from exc
            # Quiet: the runtime's INFO lines, and its warning that preserving tensors (how the embedding is
            # read) costs memory.
            with warnings.catch_warnings(), _native_stderr_silenced():
                warnings.simplefilter("ignore")
                interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True, num_threads=1)
                interpreter.allocate_tensors()
                interpreter.invoke()
            tensors = {d["name"]: d["index"] for d in interpreter.get_tensor_details()}
            if EMBEDDING_TENSOR not in tensors:
                raise UserError(f"{path}: no tensor {EMBEDDING_TENSOR!r}; not the YAMNet graph this suite reads")
            self._interpreter = interpreter
            self._input = interpreter.get_input_details()[0]["index"]
            self._embedding = tensors[EMBEDDING_TENSOR]
            self._scores = interpreter.get_output_details()[0]["index"]
        return self._interpreter

    def _run(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        interpreter = self._runtime()
        embeddings, scores = [], []
        for wave in waves:
            per_frame_embedding, per_frame_scores = [], []
            for frame in frames(wave):
                interpreter.set_tensor(self._input, frame[None, :])
                interpreter.invoke()
                per_frame_embedding.append(interpreter.get_tensor(self._embedding)[0].astype(np.float64))
                per_frame_scores.append(interpreter.get_tensor(self._scores)[0].astype(np.float64))
            embeddings.append(np.mean(per_frame_embedding, axis=0))
            scores.append(np.mean(per_frame_scores, axis=0))
        return np.stack(embeddings), np.stack(scores)

    def embed_waveforms(self, waves: list[np.ndarray]) -> np.ndarray:
        return self._run(waves)[0]

    def class_scores(self, waves: list[np.ndarray]) -> np.ndarray:
        return self._run(waves)[1]

    def label_names(self) -> list[str]:
        if self.models_root is None:
            self.weights(self.params.file, self.params.sha256)  # the one-line error about the models root
        path = self.models_root / self.params.class_map  # type: ignore[operator]
        if not path.is_file():
            raise UserError(f"{path}: YAMNet's class map is missing (index, mid, display_name)")
        with open(path, newline="", encoding="utf-8") as handle:
            return [row["display_name"] for row in csv.DictReader(handle)]
