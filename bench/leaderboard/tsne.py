"""t-SNE of a dataset's real test embeddings with each technique's set overlaid: where the distilled items sit
among the real clips, one panel per row of the board, in one shared map (scikit-learn's TSNE, fixed seed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.embedders.base import Embedder
from bench.embedders.store import real_embeddings
from bench.evaluation.tracks.probe import embed_set
from bench.leaderboard.plots import _pyplot, _save
from bench.session import Session
from bench.sets.files import LabelledSet

GRIFFIN_LIM_ITERATIONS = 32


def tsne_png(
    session: Session,
    dataset: str,
    embedder: Embedder,
    sets: Sequence[tuple[str, LabelledSet]],
    target: Path,
    title: str,
) -> Path:
    from sklearn.manifold import TSNE

    features = session.features(dataset)
    real = real_embeddings(session, dataset, embedder)
    blocks, labels = [real["test"]], [features.test.y.numpy()]
    for _, labelled in sets:
        embedded, y, _ = embed_set(embedder, labelled, features, real, GRIFFIN_LIM_ITERATIONS)
        blocks.append(embedded)
        labels.append(y.numpy())
    stacked = np.concatenate(blocks)
    stacked = (stacked - stacked.mean(axis=0)) / (stacked.std(axis=0) + 1e-9)
    perplexity = float(min(30, len(stacked) - 1))
    points = TSNE(n_components=2, init="pca", random_state=0, perplexity=perplexity).fit_transform(stacked)
    _, plt = _pyplot()
    columns = min(4, len(sets)) or 1
    rows = (len(sets) + columns - 1) // columns or 1
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 3.0 * rows + 0.4), squeeze=False)
    colours = plt.get_cmap("tab20" if features.num_classes > 10 else "tab10")
    test = points[: len(blocks[0])]
    start = len(blocks[0])
    for panel, ((name, _), y) in enumerate(zip(sets, labels[1:], strict=True)):
        ax = axes[panel // columns][panel % columns]
        ax.scatter(test[:, 0], test[:, 1], c=[colours(int(c)) for c in labels[0]], s=7, alpha=0.45, linewidths=0)
        mine = points[start : start + len(y)]
        start += len(y)
        ax.scatter(mine[:, 0], mine[:, 1], c=[colours(int(c)) for c in y], s=28, edgecolors="black", linewidths=0.6)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for panel in range(len(sets), rows * columns):
        axes[panel // columns][panel % columns].axis("off")
    fig.suptitle(title, fontsize=9)
    return _save(fig, target, 80)
