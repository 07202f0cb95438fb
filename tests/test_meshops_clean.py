"""Clean-up: the person's piece only, holes closed with consistent winding, no degenerate faces."""
from __future__ import annotations

import numpy as np
import pytest

from backend.mesh import Mesh
from backend.meshops import clean_mesh, is_watertight
from backend.meshops.components import face_components
from backend.meshops.degenerate import remove_degenerate
from backend.meshops.holes import boundary_loops, fill_holes
from backend.meshops.smooth import taubin_smooth
from backend.meshops.topology import face_areas
from tests.support import meshes as M


def damaged_figure() -> tuple[Mesh, dict]:
    """The figure with two floating blobs, a hole in the back, a duplicated face, a fin (a face and its
    reverse), a zero-area face and an unused vertex; colours are the true albedo."""
    v, f = M.figure_mesh(0.02)
    colors = M.figure_albedo(v).astype(np.float32)
    body_area = face_areas(v, f).sum()
    parts = [(v, f, colors)]
    for centre in ((0.35, 0.6, 0.1), (-0.3, -0.7, 0.2)):               # floating fragments
        sv, sf = M.sphere_mesh(0.04, 0.02, centre)
        parts.append((sv, sf, np.full((len(sv), 3), 0.1, np.float32)))
    verts, faces, cols, base = [], [], [], 0
    for pv, pf, pc in parts:
        verts.append(pv), faces.append(pf + base), cols.append(pc)
        base += len(pv)
    v, f, c = np.concatenate(verts), np.concatenate(faces), np.concatenate(cols)
    # a hole: the faces around a vertex on the back of the chest
    centre = np.argmin(np.linalg.norm(v - [0.0, 0.15, -0.17], axis=1))
    ring = np.isin(f, [centre]).any(axis=1)
    hole_faces = int(ring.sum())
    f = f[~ring]
    extra = [f[10], f[20][::-1], [f[30][0], f[30][1], f[30][0]]]        # duplicate, fin, repeated vertex
    f = np.concatenate([f, np.asarray(extra, np.int32)])
    v = np.concatenate([v, [[5.0, 5.0, 5.0]]]).astype(np.float32)        # unused vertex
    c = np.concatenate([c, [[0.0, 0.0, 0.0]]]).astype(np.float32)
    return Mesh(v, f, c), {"body_area": body_area, "hole_faces": hole_faces}


def test_damaged_mesh_comes_back_as_one_watertight_piece():
    mesh, meta = damaged_figure()
    assert not is_watertight(mesh.faces, len(mesh.vertices))
    assert face_components(mesh.faces, len(mesh.vertices))[0] == 3
    clean = clean_mesh(mesh)
    n, _ = face_components(clean.faces, len(clean.vertices))
    assert n == 1
    assert is_watertight(clean.faces, len(clean.vertices))   # each edge in exactly two faces, opposite ways
    assert clean.signed_volume() > 0
    assert face_areas(clean.vertices, clean.faces).min() > 0
    assert len(np.unique(np.sort(clean.faces, axis=1), axis=0)) == len(clean.faces)
    assert np.isin(np.arange(len(clean.vertices)), clean.faces).all()       # no unused vertex
    assert face_areas(clean.vertices, clean.faces).sum() == pytest.approx(meta["body_area"], rel=0.01)
    assert clean.colors.max(axis=1).min() > 0.3                              # the dark blobs are gone
    info = clean.info["clean"]
    assert info["pieces_dropped"] == 2 and info["degenerate_faces_removed"] >= 3
    assert info["holes_closed"] == 2          # the cut, and the fin's face (both windings go, then re-closed)


def test_hole_fill_keeps_the_winding():
    v, f = M.sphere_mesh(0.5, 0.05)
    keep = ~(v[f].mean(axis=1)[:, 2] > 0.42)                       # cut a cap off: one loop of many edges
    cut = f[keep]
    loops = boundary_loops(cut, len(v))
    assert len(loops) == 1 and len(loops[0]) > 8
    v2, f2, _, closed = fill_holes(v, cut, None, max_edges=len(loops[0]))
    assert closed == 1 and is_watertight(f2, len(v2))
    exact = 4 / 3 * np.pi * 0.5 ** 3
    assert Mesh(v2, f2, np.zeros_like(v2)).signed_volume() == pytest.approx(exact, rel=0.03)
    # a hole larger than the limit stays open
    _, f3, _, none = fill_holes(v, cut, None, max_edges=len(loops[0]) - 1)
    assert none == 0 and len(f3) == len(cut)


def test_degenerate_faces_are_removed_without_opening_the_surface():
    v, f = M.sphere_mesh(0.5, 0.05)
    # split an edge with a vertex at its midpoint, leaving a zero-area face (a, m, b) behind
    a, b, c = f[0]
    m = len(v)
    v = np.concatenate([v, [(v[a] + v[b]) / 2]]).astype(np.float32)
    other = np.nonzero(np.isin(f, [a]).any(1) & np.isin(f, [b]).any(1))[0]
    assert len(other) == 2
    faces = [row for i, row in enumerate(f) if i not in other]
    for i in other:
        x, y, z = f[i]
        k = list(f[i]).index(a) if (list(f[i]).index(a) + 1) % 3 == list(f[i]).index(b) else list(f[i]).index(b)
        p, q, r = np.roll(f[i], -k)                                   # edge p -> q is the split edge
        faces += [[p, m, r], [m, q, r]]
    faces.append([a, m, b] if (list(f[other[0]]).index(a) + 1) % 3 == list(f[other[0]]).index(b) else [b, m, a])
    faces = np.asarray(faces, np.int32)
    colors = np.zeros_like(v)
    v2, f2, _ = remove_degenerate(v, faces, colors)
    assert face_areas(v2, f2).min() > 1e-9
    assert len(f2) < len(faces)


def test_taubin_smoothing_keeps_size_and_softens_the_staircase():
    # a voxel sphere: marching cubes of a 0/1 occupancy gives a terraced surface
    v, f = M.mesh_from_sdf(lambda p: np.where(np.linalg.norm(p, axis=1) < 0.5, -1.0, 1.0), (-0.6,) * 3,
                           (0.6,) * 3, 0.04)
    smooth = taubin_smooth(v, f, iterations=5)
    r0, r1 = np.linalg.norm(v, axis=1), np.linalg.norm(smooth, axis=1)
    assert abs(r1.mean() - r0.mean()) < 0.01                         # no shrinking (plain Laplacian would)
    assert r1.std() < 0.7 * r0.std()                                  # rounder
    mesh = Mesh(v, f, np.zeros_like(v))
    assert clean_mesh(mesh, smooth_iterations=3).signed_volume() == pytest.approx(mesh.signed_volume(), rel=0.02)


def test_a_piece_off_the_person_is_dropped_and_a_detached_hand_kept():
    """Two loose pieces of the same size (each over 1 % of the figure's area): a "hand" the networks made
    detached from the figure's right forearm (the photo shows it there) and a blob in the background."""
    from backend.meshops.clean import outside_person

    v, f = M.figure_mesh(0.02)
    parts, base = [(v, f)], len(v)
    hand, blob = (-0.36, -0.33, 0.02), (0.6, -0.3, 0.0)
    for centre in (hand, blob):
        sv, sf = M.sphere_mesh(0.07, 0.02, centre)
        parts.append((sv, sf + base))
        base += len(sv)
    verts = np.concatenate([p[0] for p in parts]).astype(np.float32)
    faces = np.concatenate([p[1] for p in parts]).astype(np.int32)
    mesh = Mesh(verts, faces, np.zeros_like(verts))
    size, calib = 256, np.diag([1.0, -1.0, 1.0, 1.0])

    def person(p: np.ndarray) -> np.ndarray:                         # the photo's person: figure and hand
        return np.minimum(M.figure_sdf(p), np.linalg.norm(p - hand, axis=1) - 0.07)

    mask = M.render(M.front_camera(size), sdf=person)[:, :, 3] > 127   # no blob in the photo
    out = outside_person(verts, mask, calib)
    assert not out[:len(v)].any()                                    # the figure itself is the person
    assert out[-len(parts[2][0]):].all()                              # the blob is far from it
    near = clean_mesh(mesh, min_component_fraction=0.01)
    assert face_components(near.faces, len(near.vertices))[0] == 3    # by size alone both pieces stay
    cleaned = clean_mesh(mesh, min_component_fraction=0.01, person_mask=mask, calib=calib)
    n, _ = face_components(cleaned.faces, len(cleaned.vertices))
    assert n == 2 and cleaned.info["clean"]["pieces_dropped"] == 1
    assert cleaned.vertices[:, 0].max() < 0.4                        # the blob (x 0.53..0.67) is gone
    assert np.linalg.norm(cleaned.vertices - hand, axis=1).min() < 0.08   # the hand stayed


def test_the_person_mask_follows_the_crop_into_the_network_input():
    from backend.photo.inputs import network_mask

    mask = np.zeros((300, 200), bool)
    mask[100:200, 50:150] = True                                      # a 100 px square in a 200x300 photo
    out = network_mask(mask, (-50, 50, 300), 600)                     # the crop leaves the photo on the left
    assert out.shape == (600, 600) and out.dtype == bool
    ys, xs = np.nonzero(out)
    # photo x 50..150 -> crop 100..200 -> input 200..400; photo y 100..200 -> crop 50..150 -> input 100..300
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (200, 399, 100, 299)
    assert not out[:, :100].any()                                      # left of the photo: nothing
