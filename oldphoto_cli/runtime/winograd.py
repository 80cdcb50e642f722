"""Winograd convolution for the CPU: the same 3×3 convolution with 4 to 5 times fewer multiplies.

Nearly all of stage 1's time on a CPU goes into 3×3 convolutions with 512 channels in the mapping
networks, and PyTorch's CPU kernels compute those directly. Winograd's minimal filtering (Lavin &
Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) computes each m×m output tile from
an (m+2)×(m+2) input tile with (m+2)² multiplies per channel pair instead of 9m²: 2.25 per output
for F(4×4, 3×3), 1.78 for F(6×6, 3×3). What remains is (m+2)² large matrix products, which oneDNN
(MKL on Intel CPUs) runs near the cores' full speed (runtime/matmul.py). The result equals the
direct convolution up to float32 rounding. Larger tiles round more: against the reference vectors
F(6×6) takes the quality chain from 1.6e-4 to 3.0e-4 and the masked non-local chain from 6.1e-4 to
1.4e-3, past the 1e-3 the vectors allow, so the pipeline picks the tile, and how the long channel
sums are split, per network (``WinogradOptions``, pipeline/bopbtl.py).

The swap is a runtime choice, not part of the networks: :func:`accelerate_convolutions` replaces
eligible ``nn.Conv2d`` layers in a loaded network with :class:`WinogradConv2d`, which keeps the same
``weight`` and ``bias`` parameters (so state-dict keys do not change). A reflection pad right
before a convolution is folded into it: the Winograd convolution reads its input windows with the
padding applied, so the feature map is never copied padded. Where products write in place (MKL),
the transforms run one tile row at a time straight from the image (:func:`_image_by_tile_rows`);
where they come as new tensors (oneDNN), a block's windows are gathered first
(:func:`gathered_windows`). CUDA already picks Winograd kernels itself, so only CPU networks are
converted.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn

from oldphoto_cli.runtime.layers import children_with_predecessors
from oldphoto_cli.runtime.matmul import matmul_nt, sum_of_products_, writes_in_place
from oldphoto_cli.runtime.moments import BlockMoments, MomentsHandoff

TILES = (4, 6)  # output tile sides with transforms below; 6 saves a fifth of the products
DEFAULT_TILE = 6
CHUNK_BYTES = 96 * 2**20  # a block of tile rows' windows, transformed or gathered: bounds the extra
# memory (the block's products take as much again; see _rows_per_block). Larger blocks give the
# products more tiles: a 1 MP quality mapping took 4.61 s with 96 MiB blocks against 4.70 s with 48
# (oneDNN, best of six, alternated in one process), and 6.4 s against 6.0 with 32 against 48; with
# MKL, whole 1 MP restores took 5.5 s with 256 MiB, 5.6 s with 96 and 5.9 s with 48 (three each,
# alternated). Products written over the transformed input (MKL, _products_offset) let blocks grow
# to nearly twice the size in the same memory: a 512-channel 256² convolution took 0.228 to 0.243 s
# against 0.247 to 0.261 s (two blocks of 22 and 21 tile rows against five of 8 and one of 3).
# Tiles per product, rounded up to a multiple of this with zero tiles: oneDNN runs a product with an
# odd number of rows 10 to 20 % slower than one with a row more (2 cores; 343 rows against 342 or
# 344), and a 1 MP photo has 43 tiles a row.
TILES_MULTIPLE = 8
MIN_CHANNELS = 128  # the wide mapping convolutions: most of the time, and the rounding stays ~1e-4
# Input channels per partial sum of the products, by default. oneDNN sums a dot product in one
# run; over 512 channels that took the masked non-local chain from 6.1e-4 to 9.3e-4 against the
# reference vectors, whose tolerance is 1e-3. Two sums of 256, added by the product itself, cost
# about 10 % of a 512-channel convolution (2 cores). Networks that round less take one sum
# (``WinogradOptions``).
CHANNELS_PER_SUM = 256
# Interpolation points of the Toom-Cook construction (plus the point at infinity): small integers
# and halves keep the transforms' entries, and so their rounding, small.
POINTS = {4: (0, 1, -1, 2, -2), 6: (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2))}


@dataclass(frozen=True)
class WinogradOptions:
    """How a network's convolutions trade rounding for speed: the output tile's side (4 or 6),
    how many input channels each partial sum of the products covers (None: all of them), and
    whether an instance norm reading a convolution's output takes its moments from the
    convolution (runtime/moments.py) instead of computing them itself."""

    tile: int = DEFAULT_TILE
    channels_per_sum: int | None = CHANNELS_PER_SUM
    hand_moments: bool = True


DEFAULT_OPTIONS = WinogradOptions()


@dataclass(frozen=True)
class Transforms:
    """F(m×m, 3×3) in exact rationals: y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for one input tile d.

    ``g_scale`` is the smallest integer making ``g_scale · G`` an integer matrix.
    """

    tile: int
    bt: tuple[tuple[Fraction, ...], ...]  # (m+2) × (m+2), input tiles
    g: tuple[tuple[Fraction, ...], ...]  # (m+2) × 3, filters
    at: tuple[tuple[Fraction, ...], ...]  # m × (m+2), output tiles
    g_scale: int

    @property
    def window(self) -> int:
        return self.tile + 2


@functools.cache
def transforms(tile: int) -> Transforms:
    """The Toom-Cook matrices for output tiles of side ``tile`` (see POINTS).

    With finite points a₀…a_{n-2} and infinity (n = tile + 2): Aᵀ holds their powers, G's rows are
    the powers over ∏(aⱼ − aₗ), and Bᵀ's rows are the coefficients of ∏_{l≠j}(x − aₗ) and, for
    infinity, of ∏(x − aₗ): Lagrange interpolation of the product polynomial, written as matrices.
    """
    points = [Fraction(p) for p in POINTS[tile]]
    at = [[p**i for p in points] + [Fraction(int(i == tile - 1))] for i in range(tile)]
    g = []
    bt = []
    for j, a in enumerate(points):
        others = points[:j] + points[j + 1 :]
        g.append([a**k / math.prod(a - b for b in others) for k in range(3)])
        bt.append(_poly_from_roots(others) + [Fraction(0)])
    g.append([Fraction(int(k == 2)) for k in range(3)])
    bt.append(_poly_from_roots(points))
    scale = math.lcm(*(x.denominator for row in g for x in row))
    return Transforms(tile, _rows(bt), _rows(g), _rows(at), scale)


def _poly_from_roots(roots: list[Fraction]) -> list[Fraction]:
    """Coefficients, lowest power first, of ∏(x − r)."""
    coefficients = [Fraction(1)]
    for r in roots:
        shifted = [Fraction(0)] + coefficients
        coefficients = [s - r * c for s, c in zip(shifted, coefficients + [Fraction(0)])]
    return coefficients


def _rows(matrix: list[list[Fraction]]) -> tuple[tuple[Fraction, ...], ...]:
    return tuple(tuple(row) for row in matrix)


def transform_weight(
    weight: torch.Tensor, tile: int = DEFAULT_TILE, channels_per_sum: int | None = CHANNELS_PER_SUM
) -> torch.Tensor:
    """s²·G·g·Gᵀ for every filter as one product with sG⊗sG: (O, I, 3, 3) → ((m+2)², P, O, I/P).

    The input channels come in ``P = channel_parts(I, channels_per_sum)`` groups, each summed on
    its own (see CHANNELS_PER_SUM). s·G has small integer entries (s = 24 for F(4×4), 90 for
    F(6×6)), so (sG)⊗(sG) is exact in float32 and the only rounding is in the sums of nine terms.
    The factor s² is divided out by the output transform (``_kernels``), which saves a pass over
    these filters. The product goes through oneDNN (runtime/matmul.py): half the time of MKL's.
    Cheap enough to redo on every call, which keeps memory at the checkpoint's size, not five to
    seven times it.
    """
    out_ch, in_ch = weight.shape[:2]
    parts = channel_parts(in_ch, channels_per_sum)
    grouped = weight.detach().reshape(out_ch, parts, in_ch // parts, 9).transpose(0, 1)
    gg = _weight_kernel(tile, weight.dtype, weight.device)
    window = tile + 2
    return matmul_nt(gg, grouped.reshape(-1, 9)).view(window * window, parts, out_ch, in_ch // parts)


def channel_parts(channels: int, per_sum: int | None = CHANNELS_PER_SUM) -> int:
    """How many groups of ``per_sum`` input channels are summed separately (1 for None)."""
    return channels // per_sum if per_sum and channels % per_sum == 0 else 1


def winograd_conv3x3(
    x: torch.Tensor,
    u: torch.Tensor,
    bias: torch.Tensor | None,
    padding: int,
    tile: int = DEFAULT_TILE,
    reflect: bool = False,
    handoff: MomentsHandoff | None = None,
) -> torch.Tensor:
    """3×3 convolution, stride 1, of N×C×H×W ``x`` with filters ``u`` from :func:`transform_weight`.

    ``padding`` (0 or 1) pads with zeros, or by reflection with ``reflect`` (ReflectionPad2d then
    an unpadded convolution). The work happens channels-last (N, H, W, C in memory): a tile's
    channels are then one contiguous row, so the products are plain (tiles × C)·(C × O) matrices
    that oneDNN takes as they are (runtime/matmul.py). The result is a channels-last N×C×H×W
    tensor, which the next layers (and the next Winograd convolution, without a copy) accept like
    any other. With a ``handoff``, each image's per-channel mean and variance are taken as its
    tile rows are written and left there for the norm that reads the result (runtime/moments.py).
    """
    n, channels, height, width = x.shape
    if reflect and padding and min(height, width) < 2:
        raise ValueError(f"reflection padding needs at least 2×2 pixels, got {height}×{width}")
    out_h, out_w = height + 2 * padding - 2, width + 2 * padding - 2
    tiles_h, tiles_w = -(-out_h // tile), -(-out_w // tile)
    out = torch.empty(n, out_h, out_w, u.shape[2], dtype=x.dtype, device=x.device)
    rows = _rows_per_block(tiles_h, tiles_w, tile + 2, channels, u.shape[2], x.element_size())
    if bias is None:
        bias = torch.zeros(u.shape[2], dtype=x.dtype, device=x.device)
    moments = [BlockMoments(u.shape[2], tile * out_w, x) for _ in range(n)] if handoff else [None] * n
    for image, target, sums in zip(x.permute(0, 2, 3, 1), out, moments):  # H×W×C views if channels-last
        if writes_in_place():
            _image_by_tile_rows(image, u, bias, target, padding, reflect, tile, rows, sums)
            continue
        for top in range(0, tiles_h, rows):
            bottom = min(tiles_h, top + rows)
            windows = gathered_windows(image, padding, reflect, tile, (top, bottom), tiles_w, u.shape[1])
            _tile_rows(windows, u, bias, target, (top, bottom), tiles_w, tile, sums)
            del windows  # overwritten by _tile_rows; freed before the next block's are gathered
    result = out.permute(0, 3, 1, 2)
    if handoff is not None:
        means, variances = zip(*(sums.result() for sums in moments))
        handoff.put(result, torch.stack(means), torch.stack(variances))
    return result


def _rows_per_block(tiles_h: int, tiles_w: int, window: int, channels: int, out_ch: int, size: int) -> int:
    """Tile rows per block: as many as fit the block's memory (see CHUNK_BYTES), in blocks of
    sizes as equal as whole rows allow.

    Products that come as new tensors (oneDNN) need two blocks' memory, each of CHUNK_BYTES at
    most; products written in place (MKL) share one block of memory with the transformed input
    (:func:`_products_offset`), which may then cover twice CHUNK_BYTES: blocks nearly twice as
    large in the same memory.
    """
    if writes_in_place():
        row_bytes = size * _block_elements(window, tiles_w, channels, out_ch)
        most_rows = 2 * CHUNK_BYTES // row_bytes
    else:
        most_rows = CHUNK_BYTES // (size * window * window * channels * tiles_w)
    return -(-tiles_h // -(-tiles_h // max(1, most_rows)))


def gathered_windows(
    image: torch.Tensor,
    padding: int,
    reflect: bool,
    tile: int,
    rows: tuple[int, int],
    tiles_w: int,
    parts: int,
) -> torch.Tensor:
    """The input windows of tile rows ``rows`` of the H×W×C ``image``, padded by ``padding`` on
    every side (by reflection or with zeros) and with zeros up to whole tiles, gathered as
    d[(i, j), p, ty·tiles_w + tx, c] = padded[m·ty + i, m·tx + j, p·part + c], a ((m+2)², parts,
    tiles, part) tensor whose tiles beyond the block's are zeros, up to a multiple of TILES_MULTIPLE.

    Tiles whose windows lie inside the image are gathered straight from it; only the tiles along
    its borders read from padded copies of their own few rows or columns. Padding the block's rows
    whole first copied the feature map once more: 0.32 s of gathering in a 1 MP quality mapping
    against 0.20 s without the padded copy (2 cores, the two timed side by side in one run).
    """
    channels = image.shape[2]
    window = tile + 2
    top, bottom = rows
    count = (bottom - top) * tiles_w
    padded_count = _padded(count)
    gathered = image.new_empty(window, window, parts, padded_count, channels // parts)
    gathered[:, :, :, count:] = 0
    out = gathered[:, :, :, :count].view(window, window, parts, bottom - top, tiles_w, -1)
    row_pieces = _pieces(top, bottom, _inside(tile, padding, image.shape[0]))
    col_pieces = _pieces(0, tiles_w, _inside(tile, padding, image.shape[1]))
    for (a, b), rows_inside in row_pieces:
        for (c, d), cols_inside in col_pieces:
            spans = (a * tile, b * tile + 2), (c * tile, d * tile + 2)
            if rows_inside and cols_inside and image.stride(1) == channels and image.stride(2) == 1:
                region = image[
                    spans[0][0] - padding : spans[0][1] - padding,
                    spans[1][0] - padding : spans[1][1] - padding,
                ]
            else:
                region = padded_region(image, padding, reflect, *spans)
            out[:, :, :, a - top : b - top, c:d] = _windows(region, tile, parts, b - a, d - c)
    return gathered.view(window * window, parts, padded_count, -1)


def _inside(tile: int, padding: int, size: int) -> tuple[int, int]:
    """The tiles, along a side of ``size`` pixels, whose windows lie inside the image: [lo, hi)."""
    return -(-padding // tile), (padding + size - tile - 2) // tile + 1


def _pieces(lo: int, hi: int, inside: tuple[int, int]) -> list[tuple[tuple[int, int], bool]]:
    """[lo, hi) cut into the ranges before, within and after ``inside``, each marked whether it is
    inside; empty ranges left out."""
    a, b = min(max(inside[0], lo), hi), max(min(inside[1], hi), lo)
    if a >= b:
        return [((lo, hi), False)]
    pieces = [((lo, a), False), ((a, b), True), ((b, hi), False)]
    return [(span, within) for span, within in pieces if span[0] < span[1]]


def _windows(region: torch.Tensor, tile: int, parts: int, rows: int, tiles_w: int) -> torch.Tensor:
    """Every window of the tiles of ``region`` (rows × cols × C, channels contiguous), as a view
    (m+2, m+2, parts, rows, tiles, part)."""
    row_stride, channels = region.stride(0), region.shape[2]
    part = channels // parts
    return region.as_strided(
        (tile + 2, tile + 2, parts, rows, tiles_w, part),
        (row_stride, channels, part, tile * row_stride, tile * channels, 1),
        region.storage_offset(),
    )


def padded_region(
    image: torch.Tensor, padding: int, reflect: bool, rows: tuple[int, int], cols: tuple[int, int]
) -> torch.Tensor:
    """Rows × columns (padded coordinates, [start, stop)) of the H×W×C ``image`` padded by
    ``padding`` on every side, by reflection or with zeros, and with zeros beyond: a copy."""
    row_source = _sources(*rows, padding, reflect, image.shape[0])
    col_source = _sources(*cols, padding, reflect, image.shape[1])
    region = image.new_zeros(rows[1] - rows[0], cols[1] - cols[0], image.shape[2])
    kept_rows, kept_cols = (row_source >= 0).nonzero()[:, 0], (col_source >= 0).nonzero()[:, 0]
    if len(kept_rows) and len(kept_cols):
        first, last = int(row_source[kept_rows].min()), int(row_source[kept_rows].max()) + 1
        picked = image[first:last].index_select(1, col_source[kept_cols])  # columns first: a narrow copy
        picked = picked.index_select(0, row_source[kept_rows] - first)
        region[kept_rows[:, None], kept_cols[None, :]] = picked
    return region


def _sources(start: int, stop: int, padding: int, reflect: bool, size: int) -> torch.Tensor:
    """For padded positions start…stop − 1 along a side, the image position each copies; −1 for zeros."""
    source = torch.arange(start - padding, stop - padding)
    if reflect and padding:  # ReflectionPad2d(1): position −1 mirrors 1, position size mirrors size − 2
        source[source == -1] = 1
        source[source == size] = size - 2
    source[(source < 0) | (source >= size)] = -1
    return source


def _tile_rows(
    windows: torch.Tensor,
    u: torch.Tensor,
    bias: torch.Tensor,
    out: torch.Tensor,
    span: tuple[int, int],
    tiles_w: int,
    tile: int,
    moments: BlockMoments | None = None,
) -> None:
    """Tile rows ``span`` of one image, whose windows are ``windows`` (from
    :func:`gathered_windows`): transform, products, transform back, and write them into ``out``
    plus ``bias`` (one pass), a tile row at a time, whose ``moments`` are then taken while it is in
    cache. For products that come as new tensors (oneDNN).
    """
    rows, out_ch = span[1] - span[0], u.shape[2]
    padded_count = windows.shape[2]
    y = _products_as_new_tensors(windows, u, tile)
    y = y.view(tile, tile, padded_count, out_ch)[:, :, : rows * tiles_w]
    y = y.view(tile, tile, rows, tiles_w, out_ch).permute(2, 0, 3, 1, 4)  # (rows, i, tiles, j, O)
    for ty in range(*span):
        top, bottom = ty * tile, min(out.shape[0], (ty + 1) * tile)
        for c0, c1, width in _whole_and_cut(out.shape[1], tile):
            region = out[top:bottom, c0 * tile : c0 * tile + (c1 - c0) * width]
            source = y[ty - span[0], : bottom - top, c0:c1, :width]
            torch.add(source, bias, out=region.view(bottom - top, c1 - c0, width, out_ch))
        if moments is not None:
            moments.add(out[top:bottom].view(-1, out_ch))


def _whole_and_cut(size: int, tile: int) -> list[tuple[int, int, int]]:
    """Along a side of ``size`` pixels: the whole tiles as (first, stop, tile), then the tile cut
    short by the edge, if any, as (index, index + 1, pixels kept). Writing each such piece of the
    output through a view of its own saves reshaping a block's result into a copy first."""
    whole, cut = divmod(size, tile)
    pieces = [(0, whole, tile)] if whole else []
    return pieces + ([(whole, whole + 1, cut)] if cut else [])


def _products_as_new_tensors(windows: torch.Tensor, u: torch.Tensor, tile: int) -> torch.Tensor:
    """The output tiles (m², tiles, O) of ``windows`` where products come as new tensors (oneDNN):
    each transform is one product with Bᵀ⊗Bᵀ or Aᵀ⊗Aᵀ.

    The products overwrite ``windows`` once the input transform has read them, and the output
    transform's result takes the memory of the transformed input: two blocks of memory instead of
    four, so that blocks can be twice as large (see CHUNK_BYTES) in the same memory. (The input
    transform in two one-dimensional passes took 44 ms a block against 30 ms on the AMD machine:
    oneDNN wants the long side of a product contiguous, which those passes do not give it.)
    """
    positions, parts, padded_count, part = windows.shape
    kb, ka = _kernels(tile, windows.dtype, windows.device)
    v = matmul_nt(kb, windows.view(positions, -1).t()).view(positions, parts, padded_count, part)
    m = _buffer(windows, (positions, padded_count, u.shape[2]))
    sum_of_products_(m, [(v[:, p], u[:, p]) for p in range(parts)])  # tiles × C by C × O, per position
    del v  # freed, so that the output transform's result takes its memory
    return matmul_nt(ka, m.view(positions, -1).t())


def _buffer(memory: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A tensor of ``shape`` in ``memory``'s storage if it fits there, else a new one."""
    count = math.prod(shape)
    if memory.numel() >= count:
        return memory.view(-1)[:count].view(shape)
    return memory.new_empty(shape)


def _image_by_tile_rows(
    image: torch.Tensor,
    u: torch.Tensor,
    bias: torch.Tensor,
    out: torch.Tensor,
    padding: int,
    reflect: bool,
    tile: int,
    rows_per_block: int,
    moments: BlockMoments | None = None,
) -> None:
    """The convolution of one H×W×C ``image`` into ``out`` (H'×W'×O), for products that write
    in place (MKL), with no gathered windows: each transform runs one tile row at a time, on data
    that stays in cache, and reads or writes the feature maps once (and takes each written row's
    ``moments``, if asked).

    The input transform's first step (along the window's rows) is one product of Bᵀ with the
    tile row's m+2 image rows, which are contiguous in channels-last memory; the second (along
    its columns) is a batched product over the row's windows, written straight into the block's
    transformed input. The products overwrite that input as it is used (one block of memory,
    allocated once, serves every block: :func:`_block_views`). The output transform does the
    same backwards and writes each tile row of the result, plus ``bias``, into ``out``. Each
    transform takes one side of the tile after the other, rows first (a quarter of the multiplies
    of one product with the Kronecker factor, which suits MKL less than oneDNN, see
    :func:`_products_as_new_tensors`). On the 2-core Xeon (Sapphire Rapids kind) a 512-channel
    256² convolution took 0.238 s this way against 0.256 s with gathered windows transformed a
    block at a time (best of ten, alternated in one process), of which 0.167 s are the products.
    """
    channels = image.shape[2]
    if image.stride(1) != channels or image.stride(2) != 1:
        image = image.contiguous()  # a channels-first input: its rows must be contiguous
    tiles_h, tiles_w = -(-out.shape[0] // tile), -(-out.shape[1] // tile)
    bt, at = _factors(tile, image.dtype, image.device)
    rows = image.new_zeros(tile + 2, tiles_w * tile + 2, channels)  # one tile row, transformed down
    window, out_ch = tile + 2, u.shape[2]
    buffer = image.new_empty(_block_elements(window, _padded(rows_per_block * tiles_w), channels, out_ch))
    for top in range(0, tiles_h, rows_per_block):
        bottom = min(tiles_h, top + rows_per_block)
        v, m = _block_views(buffer, window, _padded((bottom - top) * tiles_w), channels, out_ch)
        _transformed_tile_rows(image, bt, rows, padding, reflect, tile, (top, bottom), v)
        _products_of_positions(v, u, m)
        _write_tile_rows(m, at, bias, out, tile, (top, bottom), tiles_w, moments)


def _padded(count: int) -> int:
    """``count`` tiles rounded up to a multiple of TILES_MULTIPLE."""
    return -(-count // TILES_MULTIPLE) * TILES_MULTIPLE


def _products_offset(window: int, count: int, channels: int, out_ch: int) -> int:
    """Where, in a block's memory, the transformed input starts, its products starting at 0.

    The products of window row r (one slab of ``count · window · out_ch``) are written while row
    r of the input is read, and over rows before it, which are no longer needed: slab r of the
    products must end before input row r starts, for every r.
    """
    v_slab, m_slab = count * window * channels, count * window * out_ch
    return m_slab if m_slab <= v_slab else window * m_slab - (window - 1) * v_slab


def _block_elements(window: int, count: int, channels: int, out_ch: int) -> int:
    """The elements of a block's memory for ``count`` tiles: input and products, overlapped."""
    start = _products_offset(window, count, channels, out_ch)
    return max(start + window * count * window * channels, window * window * count * out_ch)


def _block_views(
    buffer: torch.Tensor, window: int, count: int, channels: int, out_ch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The transformed input v (r, tiles, s, C) and products m (r, s, tiles, O) of a block of
    ``count`` tiles, laid over each other in ``buffer`` (see :func:`_products_offset`)."""
    start = _products_offset(window, count, channels, out_ch)
    v = buffer[start : start + window * count * window * channels].view(window, count, window, channels)
    m = buffer[: window * window * count * out_ch].view(window, window, count, out_ch)
    return v, m


def _transformed_tile_rows(
    image: torch.Tensor,
    bt: torch.Tensor,
    rows: torch.Tensor,
    padding: int,
    reflect: bool,
    tile: int,
    span: tuple[int, int],
    v: torch.Tensor,
) -> None:
    """Bᵀ d B for every window d of tile rows ``span`` of the padded image, into v[r, t, s, c]
    (r, s: the window's transformed rows and columns; t: the block's tiles, zeros up to a
    multiple of TILES_MULTIPLE). ``rows`` is scratch memory for one tile row, (m+2) × (tiles·m +
    2) × C, whose columns outside the image are zeros on arrival."""
    window, channels = tile + 2, image.shape[2]
    tiles_w = (rows.shape[1] - 2) // tile
    count = (span[1] - span[0]) * tiles_w
    v[:, count:] = 0
    windows = rows.as_strided(
        (window, tiles_w, window, channels), (rows.stride(0), tile * channels, channels, 1)
    )
    factor = bt.expand(tiles_w, window, window)
    inside = _inside(tile, padding, image.shape[0])
    for ty in range(*span):
        within = inside[0] <= ty < inside[1]
        _rows_transformed_down(image, bt, rows, tile * ty, padding, reflect, within)
        first = (ty - span[0]) * tiles_w
        for r in range(window):
            torch.bmm(factor, windows[r], out=v[r, first : first + tiles_w])


def _rows_transformed_down(
    image: torch.Tensor,
    bt: torch.Tensor,
    rows: torch.Tensor,
    start: int,
    padding: int,
    reflect: bool,
    within: bool,
) -> None:
    """rows[:, p:p+W] = Bᵀ · (padded image rows start … start+m+1), and the reflected columns.

    ``within``: all those rows lie inside the image (:func:`_inside`), so they are read in place.
    Otherwise rows outside the image are zeros, so they drop out of the product, and reflected
    rows are read from the rows they mirror: only the tile rows along the top and bottom copy
    their rows first.
    """
    height, width, channels = image.shape
    window = bt.shape[0]
    target = rows.view(window, -1)[:, padding * channels : (padding + width) * channels]
    if within:
        first = start - padding
        torch.mm(bt, image[first : first + window].view(window, -1), out=target)
    else:
        source = _sources(start, start + window, padding, reflect, height)
        kept = (source >= 0).nonzero()[:, 0]
        picked = image.index_select(0, source[kept]).view(len(kept), -1)
        torch.mm(bt[:, kept], picked, out=target)
    if reflect and padding:  # ReflectionPad2d(1): column −1 mirrors 1, column W mirrors W − 2
        rows[:, 0] = rows[:, 2]
        rows[:, width + 1] = rows[:, width - 1]


def _products_of_positions(v: torch.Tensor, u: torch.Tensor, m: torch.Tensor) -> None:
    """m[r, s] = Σ over channel groups of v[r, :, s] · u[r, s]ᵀ into m (m+2, m+2, tiles, O), one
    batched product per window row r (its m+2 columns s are the batch), in order of r."""
    window, _, _, channels = v.shape
    parts = u.shape[1]
    part = channels // parts
    for r in range(window):
        pairs = [
            (v[r, :, :, p * part : (p + 1) * part].transpose(0, 1), u[r * window : (r + 1) * window, p])
            for p in range(parts)
        ]
        sum_of_products_(m[r], pairs)


def _write_tile_rows(
    m: torch.Tensor,
    at: torch.Tensor,
    bias: torch.Tensor,
    out: torch.Tensor,
    tile: int,
    span: tuple[int, int],
    tiles_w: int,
    moments: BlockMoments | None = None,
) -> None:
    """Aᵀ m A + bias for every tile of tile rows ``span``, written into ``out`` (H'×W'×O) one tile
    row at a time, through two tile rows' worth of scratch memory that stays in cache; each
    row's ``moments`` are taken right after it is written."""
    window, out_ch = tile + 2, m.shape[3]
    across = m.view(window, window, -1).transpose(0, 1)  # (s, r, tiles·O)
    down = m.new_empty(window, tile, tiles_w, out_ch)  # (s, i, tx, O): transformed down
    done = m.new_empty(tile, tiles_w, tile, out_ch)  # (i, tx, j, O): the tile row's output
    down_factor = at.expand(window, tile, window)
    across_factor = at.expand(tile * tiles_w, tile, window)
    for ty in range(*span):
        first = (ty - span[0]) * tiles_w * out_ch
        torch.bmm(
            down_factor, across[:, :, first : first + tiles_w * out_ch], out=down.view(window, tile, -1)
        )
        pieces = down.view(window, tile * tiles_w, out_ch).transpose(0, 1)
        torch.bmm(across_factor, pieces, out=done.view(tile * tiles_w, tile, out_ch))
        top, bottom = ty * tile, min(out.shape[0], (ty + 1) * tile)
        result = done.view(tile, tiles_w * tile, out_ch)[: bottom - top, : out.shape[1]]
        torch.add(result, bias, out=out[top:bottom])
        if moments is not None:
            moments.add(out[top:bottom].view(-1, out_ch))


@functools.cache
def _weight_kernel(tile: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(sG)⊗(sG) ((m+2)²×9, integers): the filter transform as a single exact matrix."""
    t = transforms(tile)
    g = torch.tensor([[float(x * t.g_scale) for x in row] for row in t.g], dtype=torch.float64)
    return torch.kron(g, g).round().to(dtype=dtype, device=device)


@functools.cache
def _kernels(tile: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Bᵀ⊗Bᵀ ((m+2)²×(m+2)², input tiles) and Aᵀ⊗Aᵀ/s² (m²×(m+2)², output tiles), as 2-D matrices.

    The 1/s² undoes the scale of :func:`transform_weight`'s filters. The products are taken in
    float64, so each entry is rounded to ``dtype`` once.
    """
    bt, at = _exact_factors(tile)
    return torch.kron(bt, bt).to(dtype=dtype, device=device), torch.kron(at, at).to(
        dtype=dtype, device=device
    )


@functools.cache
def _factors(tile: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Bᵀ ((m+2)×(m+2)) and Aᵀ/s (m×(m+2)): the factors of :func:`_kernels`' two matrices, for
    transforms applied one side of a tile at a time (:func:`_image_by_tile_rows`)."""
    bt, at = _exact_factors(tile)
    return bt.to(dtype=dtype, device=device), at.to(dtype=dtype, device=device)


def _exact_factors(tile: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bᵀ and Aᵀ/s of :func:`transforms` in float64 (s = ``g_scale``)."""
    t = transforms(tile)
    bt = torch.tensor([[float(x) for x in row] for row in t.bt], dtype=torch.float64)
    at = torch.tensor([[float(x) for x in row] for row in t.at], dtype=torch.float64) / t.g_scale
    return bt, at


class WinogradConv2d(nn.Module):
    """Drop-in for a 3×3, stride-1 ``nn.Conv2d`` (zero padding 0 or 1); same parameters, same keys.

    ``reflect=True`` stands for ``ReflectionPad2d(1)`` followed by ``conv`` with no padding.
    ``handoff``, set by runtime/channels_last.py when an instance norm reads this layer's output,
    receives that output's moments on every call, unless it is paused.
    """

    handoff: MomentsHandoff | None = None

    def __init__(
        self, conv: nn.Conv2d, options: WinogradOptions = DEFAULT_OPTIONS, reflect: bool = False
    ) -> None:
        super().__init__()
        if not is_compatible(conv) or (reflect and conv.padding != (0, 0)):
            raise ValueError(f"not a 3×3 stride-1 convolution with zero padding: {conv}")
        if options.tile not in TILES:
            raise ValueError(f"Winograd tiles of side {options.tile} are not available; choose from {TILES}")
        self.weight = conv.weight
        self.bias = conv.bias
        self.options = options
        self.reflect = reflect
        self.padding = 1 if reflect else int(conv.padding[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tile = self.options.tile
        u = transform_weight(self.weight, tile, self.options.channels_per_sum)
        handoff = self.handoff if self.handoff is not None and not self.handoff.paused else None
        return winograd_conv3x3(x, u, self.bias, self.padding, tile, self.reflect, handoff)

    def extra_repr(self) -> str:
        o = self.options
        return (
            f"{self.weight.shape[1]}, {self.weight.shape[0]}, tile={o.tile}, "
            f"channels_per_sum={o.channels_per_sum}, reflect={self.reflect}"
        )


def is_compatible(conv: nn.Module) -> bool:
    """3×3 kernel, stride 1, no dilation, one group, zero padding of 0 or 1 on both sides."""
    return (
        type(conv) is nn.Conv2d
        and conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and conv.padding in ((0, 0), (1, 1))
    )


def is_eligible(conv: nn.Module) -> bool:
    """Compatible and wide enough to be worth swapping (see MIN_CHANNELS)."""
    return is_compatible(conv) and min(conv.in_channels, conv.out_channels) >= MIN_CHANNELS


def accelerate_convolutions(module: nn.Module, options: WinogradOptions = DEFAULT_OPTIONS) -> int:
    """Swap every eligible convolution of ``module`` in place; returns how many were swapped.

    In an ``nn.Sequential``, a ``ReflectionPad2d(1)`` right before an eligible unpadded convolution
    becomes ``nn.Identity`` and the convolution pads by reflection itself (the indices, and so the
    state-dict keys, stay).
    """
    swapped = 0
    for name, child, before in children_with_predecessors(module):
        if not is_eligible(child):
            swapped += accelerate_convolutions(child, options)
            continue
        reflect = before is not None and _is_reflection_pad_of_one(before[1]) and child.padding == (0, 0)
        if reflect:
            setattr(module, before[0], nn.Identity())
        setattr(module, name, WinogradConv2d(child, options, reflect))
        swapped += 1
    return swapped


def _is_reflection_pad_of_one(module: nn.Module) -> bool:
    return type(module) is nn.ReflectionPad2d and tuple(module.padding) == (1, 1, 1, 1)
