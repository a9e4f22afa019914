"""A minimised trie of words as numpy tables, built without a Python loop per character.

Nodes are prefixes; node 0 is the empty one. `children[node, code]` is the node one character
further (-1: none), `flags[node]` what the caller marked at the words' ends. Minimising merges
nodes with the same flags and the same continuations (shared word endings: "-ing", "-ness"),
which shrinks an English word list's trie several times while every walk stays the same. Built
with numpy over whole levels of the trie, not a Python loop per character, so a lexicon loads in a
fraction of the time a dict-of-dicts trie would take (docs/figures-from-the-code.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def build_trie(words: Sequence[str], flags: Sequence[int], code: Mapping[str, int],
               codes: int) -> tuple[np.ndarray, np.ndarray]:
    """(children int32 [nodes, codes], flags int64 [nodes]) of the trie of `words` (sorted, unique,
    not empty), each word's end node carrying its flag; `code` numbers each character below `codes`."""
    if not words:
        return np.full((1, codes), -1, dtype=np.int32), np.zeros(1, dtype=np.int64)
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    width = int(lengths.max(initial=0))
    points = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    uniques, inverse = np.unique(points, return_inverse=True)
    letters = np.array([code[chr(p)] for p in uniques.tolist()], dtype=np.int64)[inverse]
    rows = np.repeat(np.arange(len(words)), lengths)
    cols = np.arange(len(points)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    table = np.full((len(words), width), -1, dtype=np.int64)  # each word's character codes, -1 past its end
    table[rows, cols] = letters
    # a word shares with the one before it (sorted) its longest common prefix; past that, its nodes are new
    same = np.cumprod(table[1:] == table[:-1], axis=1).sum(axis=1)
    common = np.concatenate([[0], np.minimum(same, lengths[1:])])
    depth = np.arange(width)
    new = (depth >= common[:, None]) & (depth < lengths[:, None])
    ids = np.where(new, np.cumsum(new).reshape(new.shape), 0)  # numbered row by row: they rise down each column
    node = np.maximum.accumulate(ids, axis=0)  # a shared prefix's node is the one above it
    parent = np.concatenate([np.zeros((len(words), 1), dtype=np.int64), node[:, :-1]], axis=1)
    children = np.full((int(new.sum()) + 1, codes), -1, dtype=np.int32)
    children[parent[new], table[new]] = node[new]
    node_flags = np.zeros(len(children), dtype=np.int64)
    node_flags[node[np.arange(len(words)), lengths - 1]] = flags
    return children, node_flags


def minimise(children: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """For every node, a representative of its class (the same flags and the same continuations,
    so the same walks from it). Nodes are merged level by level from the leaves up: two equivalent
    nodes are equally far from their deepest word end."""
    parents, codes = np.nonzero(children >= 0)
    kids = children[parents, codes]
    depth = np.zeros(len(children), dtype=np.int64)
    levels = [np.zeros(1, dtype=np.int64)]  # the edges leaving each depth, found from the root down
    while len(levels[-1]):
        leaving = np.isin(parents, levels[-1])
        depth[kids[leaving]] = len(levels)
        levels.append(kids[leaving])
    height = np.zeros(len(children), dtype=np.int64)  # how far below a node its deepest word ends
    for level in range(len(levels) - 1, 0, -1):
        edges = depth[kids] == level
        np.maximum.at(height, parents[edges], height[kids[edges]] + 1)
    canon = np.arange(len(children))
    mix = np.random.default_rng(0).integers(1, 2**63, size=children.shape[1] + 1, dtype=np.uint64) | np.uint64(1)
    for level in range(int(height.max(initial=0)) + 1):
        nodes = np.flatnonzero(height == level)
        kids = children[nodes]
        signature = np.column_stack([flags[nodes], np.where(kids >= 0, canon[np.maximum(kids, 0)], -1)])
        # rows grouped by a 64-bit digest (np.unique over whole rows sorts ten times slower), then checked
        digest = (signature.astype(np.uint64) * mix).sum(axis=1)  # wraps around: a digest, not a number
        _, first, inverse = np.unique(digest, return_index=True, return_inverse=True)
        if not (signature == signature[first[inverse]]).all():  # two rows with one digest: sort the rows
            _, first, inverse = np.unique(signature, axis=0, return_index=True, return_inverse=True)
        canon[nodes] = nodes[first[inverse.reshape(-1)]]
    return canon
