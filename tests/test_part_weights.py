"""Skin weights by body part and the separation of touching parts, without Blender
(pifuhd_blender/part_labels.py, part_weights.py, part_split.py, mesh_smoothing.py): a torso slab with an arm
lying against it (two boxes fused along a face), where surface-spreading weights would drag the torso along."""
from __future__ import annotations

import numpy as np
import pytest

from pifuhd_blender import part_labels, part_split, part_weights
from pifuhd_blender.mesh_smoothing import umbrella_smooth
from tests.support.meshes import box_grid

NAMES = ["Hips", "Spine", "LeftUpperArm", "LeftLowerArm"]
PARENTS = [None, 0, 1, 2]


def test_limb_capsules_keep_the_torso_out():
    rng = np.random.default_rng(0)
    # torso: points on a 0.3 m wide column; arm: a thin bone lying 0.2 m from its axis, points around it
    torso = np.c_[rng.uniform(-0.15, 0.15, 400), rng.uniform(-0.1, 0.1, 400), rng.uniform(0.8, 1.4, 400)]
    t = rng.uniform(0, 1, 300)
    angle = rng.uniform(0, 2 * np.pi, 300)
    arm = np.c_[0.2 + 0.04 * np.cos(angle), 0.04 * np.sin(angle), 1.4 - 0.5 * t]
    pts = np.r_[torso, arm]
    heads = np.array([[0, 0, 0.8], [0, 0, 1.0], [0.2, 0, 1.45], [0.2, 0, 1.15]])
    tails = np.array([[0, 0, 1.0], [0, 0, 1.45], [0.2, 0, 1.15], [0.2, 0, 0.85]])
    radii = part_labels.limb_radii(pts, heads, tails, NAMES, height=1.75)
    assert radii[0] == radii[1] == 0 and 0.04 < radii[2] < 0.1
    part = part_labels.assign_parts(pts, heads, tails, radii)
    assert (part[400:] >= 2).mean() > 0.95                    # the arm's points belong to the arm
    assert (part[:400] == -1).mean() > 0.85                   # the torso's, but for the side the arm lies on
    w = part_weights.part_weights(pts, heads, tails, NAMES, PARENTS, height=1.75, falloff=0.05)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5) and ((w > 0).sum(axis=1) <= 4).all()
    far_torso = torso[:, 0] < 0.0                             # the half away from the arm: no arm weight
    assert w[:400][far_torso][:, 2:].max() == 0.0


def test_bone_kinds_read_both_namings():
    assert part_labels.bone_kind("LeftUpperArm") == ("Left", "UpperArm")
    assert part_labels.bone_kind("mixamorig:RightForeArm") == ("Right", "LowerArm")
    assert part_labels.bone_kind("mixamorig:LeftUpLeg") == ("Left", "UpperLeg")
    assert part_labels.bone_kind("Spine") == ("", "Spine")


def test_touching_parts_are_cut_and_closed():
    v, f = box_grid((0, 0, 0), (2, 1, 1), 6)
    part = np.where(v[:, 0] > 1.0, 1, 0)                      # two parts along x
    joined_never = lambda a, b, at: a == b                    # noqa: E731
    nv, nf, source, npart, rims, dropped = part_split.split_parts(v, f, part, joined_never)
    assert np.allclose(nv[:len(v)], v) and np.array_equal(npart[:len(v)], part)
    # the contact's vertices are not copied: each stays one vertex of its own part (a copy on the other side
    # would move with that side, one of the two wrong whatever the truth there); the holes are closed between
    # their rims' vertices, nothing new (no vertex to blend a colour for), and every vertex is on the surface
    assert len(nv) == len(v) and np.array_equal(source, np.arange(len(v))) and rims == {}
    assert np.array_equal(np.unique(nf), np.arange(len(nv)))
    # closed: every edge is used by exactly two faces, in opposite directions
    half = np.concatenate([nf[:, [0, 1]], nf[:, [1, 2]], nf[:, [2, 0]]])
    assert len({tuple(e) for e in half}) == len(half)
    assert {tuple(e[::-1]) for e in half} == {tuple(e) for e in half}
    assert part_split.boundary_loops(nf) == []
    # and the two parts share no vertex any more
    fp = npart[nf]
    assert (fp.min(axis=1) == fp.max(axis=1)).all()
    # joined parts are left alone
    same = part_split.split_parts(v, f, part, lambda a, b, at: True)
    assert len(same.vertices) == len(v) and np.array_equal(same.faces, f)
    # what tells the cut happened (no vertex was added): the faces between the parts, a ring of them, are gone
    after = {tuple(t) for t in np.sort(source[nf], axis=1).tolist()}
    gone = [t for t in np.sort(f, axis=1).tolist() if tuple(t) not in after]
    assert dropped == len(gone) == len(part_split.bridging(f, part, joined_never)) > 0
    assert same.dropped == 0


def _dihedral_degrees(vertices: np.ndarray, faces: np.ndarray) -> dict[frozenset, float]:
    """Angle (degrees) between the normals of the two faces on each edge of a closed mesh (nan beside a face
    of no area: marching cubes leaves a few)."""
    n = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-12, n / np.maximum(length, 1e-300), np.nan)
    on: dict[frozenset, list[int]] = {}
    for fi, t in enumerate(faces.tolist()):
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            on.setdefault(frozenset((a, b)), []).append(fi)
    return {e: float(np.degrees(np.arccos(np.clip(n[x] @ n[y], -1, 1)))) for e, (x, y) in on.items()}


def test_a_curved_hole_is_closed_without_folds():
    """A cap cut off a sphere along a wavy rim (as a forearm's contact on a hip): the patch that closes the
    sphere continues its surface, its normals turning smoothly, where a fan of long thin triangles around
    one centre slants them to and fro (a dark star in the shading)."""
    from tests.support.meshes import sphere_mesh

    v, f = sphere_mesh(radius=0.5, spacing=0.05)
    angle = np.arctan2(v[:, 2], v[:, 1])
    part = np.where(v[:, 0] > 0.25 + 0.12 * np.sin(3 * angle), 1, 0)     # a cap with a wavy rim
    nv, nf, source, npart = part_split.split_parts(v, f, part, lambda a, b, at: a == b)[:4]
    assert part_split.boundary_loops(nf) == []
    body = nf[(npart[nf] == 0).all(axis=1)]
    before = {tuple(sorted(t)) for t in f.tolist()}
    patch = {frozenset(e) for t in body if tuple(sorted(source[t].tolist())) not in before
             for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    bend = _dihedral_degrees(nv, body)
    around = [bend[e] for e in patch if np.isfinite(bend[e])]
    assert len(around) > 0.9 * len(patch) > 10
    # no sharp bend inside the patch or at its rim: about 50° where the flat patch meets the sphere, 30°
    # inside (one fan around the rim's mean folds by 165° inside and 115° at the rim)
    assert max(around) < 60.0, max(around)


def test_a_rim_too_long_to_search_is_closed_by_a_fan(monkeypatch):
    """``fill``'s time grows with the cube of the rim's length (a long contact on a full-resolution mesh: 1,000
    rim vertices took 34 s): past ``FILL_MAX`` the hole gets a fan around a new centre, still closed, the
    centre's colour blended from its whole rim."""
    from tests.support.meshes import sphere_mesh

    monkeypatch.setattr(part_split, "FILL_MAX", 8)
    v, f = sphere_mesh(radius=0.5, spacing=0.05)
    part = np.where(v[:, 0] > 0.25, 1, 0)
    nv, nf, source, npart, rims, _dropped = part_split.split_parts(v, f, part, lambda a, b, at: a == b)
    assert part_split.boundary_loops(nf) == [] and len(nv) == len(v) + 2 and sorted(rims) == [len(v), len(v) + 1]
    half = np.concatenate([nf[:, [0, 1]], nf[:, [1, 2]], nf[:, [2, 0]]])
    assert len({tuple(e) for e in half}) == len(half)                    # every edge used once each way
    for centre, (rim, shares) in rims.items():
        assert len(rim) > 8 and np.allclose(shares, 1.0 / len(rim))


def test_a_patch_adds_no_edge_the_mesh_has_and_none_from_the_other_side():
    """``fill`` on a bent pentagon: the flattest triangulation uses chords the mesh lacks (a chord along an
    existing edge would put a third face on it), the other side's vertex of a slit's patch gets only the
    triangle over its own two rim edges, and a rim whose every way across is taken has none (a fan then)."""
    rim = np.array([[0, 0, 0], [1, 0, 0], [1.3, 1, 0.4], [0.5, 1.6, 0.8], [-0.3, 1, 0.4]], float)
    chords = lambda tris: {frozenset(e) for t in tris for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2]))  # noqa: E731
                           if abs(e[0] - e[1]) not in (1, len(rim) - 1)}
    free = part_split.fill(rim, [None] * 5)
    assert len(free) == 3 and len(chords(free)) == 2
    used = next(iter(chords(free)))
    taken = np.zeros((5, 5), bool)
    taken[tuple(used)] = taken[tuple(used)[::-1]] = True
    other = part_split.fill(rim, [None] * 5, taken=taken)
    assert len(other) == 3 and used not in chords(other)
    foreign = np.array([False, False, False, True, False])
    assert all(3 not in c for c in chords(part_split.fill(rim, [None] * 5, foreign)))
    assert part_split.fill(rim, [None] * 5, taken=~np.eye(5, dtype=bool)) is None


def test_a_lone_vertex_of_another_part_is_not_cut_out():
    """Dropping the faces between two parts would leave a lone vertex of another label on no face: its faces
    stay, it takes their label, and the mesh comes back whole."""
    v, f = box_grid((0, 0, 0), (2, 1, 1), 6)
    part = np.zeros(len(v), int)
    part[len(v) // 2] = 1
    nv, nf, _source, npart = part_split.split_parts(v, f, part, lambda a, b, at: a == b)[:4]
    assert len(nv) == len(v) and np.array_equal(nf, f) and (npart == 0).all()


def test_two_holes_closed_at_one_vertex_leave_it_manifold():
    """Two closed sheets meeting at one vertex (two tetrahedra sharing a corner, as two closed holes touching
    at a point leave the cut mesh): that vertex becomes one per sheet; a vertex with one fan stays."""
    def tet(a, b, c, d):
        return [(a, b, c), (a, c, d), (a, d, b), (b, d, c)]
    faces = np.array(tet(0, 1, 2, 3) + tet(0, 4, 5, 6))
    out, copied = part_split.unpinch(faces, 7, [0, 1])
    assert copied.tolist() == [0]
    first, second = set(out[:4].ravel()), set(out[4:].ravel())
    assert not first & second and 7 in first | second
    assert (out != faces).sum() == 3                          # one sheet's three corners at vertex 0 moved


def test_umbrella_smoothing_spreads_but_keeps_constants():
    v, f = box_grid((0, 0, 0), (1, 1, 1), 4)
    ones = np.ones((len(v), 2))
    assert np.allclose(umbrella_smooth(ones, f, 5), 1.0)
    spike = np.zeros(len(v))
    spike[0] = 1.0
    out = umbrella_smooth(spike, f, 3)
    assert out[0] < 1.0 and (out > 0).sum() > 4 and out.sum() == pytest.approx(1.0, rel=0.5)


def test_a_skirt_is_told_from_trousers():
    """Two legs apart (trousers) against one wide box round both (a skirt), by looking through the middle."""
    left = (np.array([0.1, 0.0, 0.9]), np.array([0.1, 0.0, 0.5]))
    right = (np.array([-0.1, 0.0, 0.9]), np.array([-0.1, 0.0, 0.5]))
    lv, lf = box_grid((0.04, -0.06, 0.4), (0.16, 0.06, 1.0), 4)
    rv, rf = box_grid((-0.16, -0.06, 0.4), (-0.04, 0.06, 1.0), 4)
    legs_v, legs_f = np.r_[lv, rv], np.r_[lf, rf + len(lv)]
    assert not part_labels.skirted(legs_v, legs_f, left, right)
    sv, sf = box_grid((-0.2, -0.1, 0.4), (0.2, 0.1, 1.0), 6)
    assert part_labels.skirted(sv, sf, left, right)
    # a leg held out sideways (a yoga tree pose) with the body filling the space between: no skirt, whatever
    # fills it (the folded shin, the other leg)
    lifted = (np.array([-0.1, 0.0, 0.9]), np.array([-0.3, 0.0, 0.8]))
    assert not part_labels.skirted(sv, sf, left, lifted)


def test_a_rim_through_one_vertex_twice_is_closed_as_two_holes():
    assert part_split._simple_loops([1, 2, 3, 1, 4, 5]) == [[1, 2, 3], [1, 4, 5]]
    assert part_split._simple_loops([1, 2, 3, 4]) == [[1, 2, 3, 4]]


def test_a_slit_is_closed_side_by_side():
    """A cut that ends where the parts are joined (an arm lying against the torso, joined at the shoulder)
    opens a slit whose rim runs along both parts: each side gets its own patch, so no closing triangle ties
    the limb to the torso, and the mesh stays closed."""
    v, f = box_grid((0, 0, 0), (2, 1, 1), 6)
    part = np.where(v[:, 0] > 1.0, 1, 0)
    joined_low = lambda a, b, at: a == b or v[at, 1] < 0.3    # noqa: E731  (joined along one side only)
    nv, nf, source, npart = part_split.split_parts(v, f, part, joined_low)[:4]
    half = np.concatenate([nf[:, [0, 1]], nf[:, [1, 2]], nf[:, [2, 0]]])
    assert len({tuple(e) for e in half}) == len(half)
    assert {tuple(e[::-1]) for e in half} == {tuple(e) for e in half}
    before = {tuple(sorted(t)) for t in f.tolist()}
    patch = np.array([tuple(sorted(source[t].tolist())) not in before for t in nf])
    assert patch.any()
    # no closing triangle has more than one corner of another part than the rest: each patch closes its own
    # side, reaching at most to the other side's first vertex (one patch over the whole slit ties them)
    labels = npart[nf[patch]]
    assert ((labels[:, 0] == labels[:, 1]) | (labels[:, 1] == labels[:, 2]) | (labels[:, 2] == labels[:, 0])).all()
    assert (npart[nf[patch]] == 0).all(axis=1).any() and (npart[nf[patch]] == 1).all(axis=1).any()
    assert part_split.patches([0, 1, 2, 3, 4, 5], [0, 0, 0, 1, 1, 1]) == [[0, 1, 2, 3], [3, 4, 5, 0]]
    assert part_split.patches([0, 1, 2, 3], [1, 1, 1, 1]) == [[0, 1, 2, 3]]


def test_a_surface_facing_the_limb_is_not_the_limbs():
    """A torso wall right beside an arm (inside the arm's capsule) faces the arm, not away from its bone:
    with the mesh's normals it stays the torso's; the arm's own surface, facing out, stays the arm's."""
    angle = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = np.c_[0.2 + 0.04 * np.cos(angle), 0.04 * np.sin(angle), np.full(24, 1.2)]
    ring_normals = np.c_[np.cos(angle), np.sin(angle), np.zeros(24)]
    wall = np.c_[np.full(5, 0.15), np.linspace(-0.04, 0.04, 5), np.full(5, 1.2)]   # torso side, 1 cm from the arm
    wall_normals = np.tile([[1.0, 0.0, 0.0]], (5, 1))                  # facing +x: towards the arm's bone
    pts, normals = np.r_[ring, wall], np.r_[ring_normals, wall_normals]
    heads = np.array([[0, 0, 0.8], [0, 0, 1.0], [0.2, 0, 1.45], [0.2, 0, 1.15]])
    tails = np.array([[0, 0, 1.0], [0, 0, 1.45], [0.2, 0, 1.15], [0.2, 0, 0.85]])
    radii = np.array([0.0, 0.0, 0.07, 0.06])
    blind = part_labels.assign_parts(pts, heads, tails, radii, NAMES)
    seeing = part_labels.assign_parts(pts, heads, tails, radii, NAMES, normals)
    assert (blind[24:] >= 2).all()                  # without normals the capsule takes the wall
    assert (seeing[24:] == -1).all() and (seeing[:24] >= 2).all()


def test_nothing_above_a_joint_follows_the_bone_below():
    """Points on a leg (thigh and shin, a knee between): the shin's weight is zero on the thigh's side of the
    knee's plane, rises past it over a band, and is whole farther down; the same at the hip for the thigh
    against the hips (what bent knees leaked before: thigh points 10 cm up took a quarter of the shin)."""
    names, parents = ["Hips", "LeftUpperLeg", "LeftLowerLeg"], [None, 0, 1]
    heads = np.array([[0.0, 0.0, 0.95], [0.1, 0.0, 0.9], [0.1, 0.0, 0.5]])
    tails = np.array([[0.0, 0.0, 1.1], [0.1, 0.0, 0.5], [0.1, 0.0, 0.1]])
    z = np.linspace(0.15, 0.85, 71)
    angle = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    zz, aa = np.meshgrid(z, angle, indexing="ij")
    pts = np.c_[0.1 + 0.05 * np.cos(aa).ravel(), 0.05 * np.sin(aa).ravel(), zz.ravel()]
    part = np.where(pts[:, 2] > 0.5, 1, 2)
    w = part_weights.part_weights(pts, heads, tails, names, parents, height=1.75, falloff=0.05, part=part)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5)
    shin = w[:, 2]
    assert shin[pts[:, 2] >= 0.5].max() == 0.0                  # above the knee: no shin weight at all
    assert shin[pts[:, 2] < 0.4].min() == pytest.approx(1.0)    # well below it: the shin's alone
    band = (pts[:, 2] < 0.5) & (pts[:, 2] > 0.4)
    by_height = [shin[band & np.isclose(pts[:, 2], h)].mean() for h in sorted(set(pts[band, 2]))[::-1]]
    assert np.all(np.diff(by_height) >= -1e-9) and 0 < by_height[0] < by_height[-1]   # rises downwards


def test_a_piece_of_torso_cut_off_inside_a_limb_goes_with_the_limb():
    # a forearm (box) whose middle band lies outside its capsule (torso by the capsule rule) and a torso box
    # joined to it at one end: the band is torso joined to the torso only through forearm vertices, so it
    # would stay behind, cut from the forearm, when the arm is raised
    v, f = box_grid((0, 0, 0), (3, 1, 1), 9)
    part = np.where(v[:, 0] < 1.0, -1, 3)                     # torso below x = 1, forearm (bone 3) beyond
    band = (v[:, 0] > 1.6) & (v[:, 0] < 2.4)
    part[band] = -1
    fixed = part_labels.torso_islands(part, f)
    assert (fixed[band] == 3).all()                           # the band follows the forearm around it
    assert (fixed[v[:, 0] < 1.0] == -1).all()                 # the torso's main piece stays torso
    loose_v, loose_f = box_grid((5, 0, 0), (6, 1, 1), 3)      # a loose torso bit, no limb around it: stays
    both_f = np.r_[f, loose_f + len(v)]
    both = part_labels.torso_islands(np.r_[part, np.full(len(loose_v), -1)], both_f)
    assert (both[len(v):] == -1).all() and (both[:len(v)][band] == 3).all()


def test_components_of_a_long_chain_and_pieces():
    order = np.random.default_rng(1).permutation(2000)        # a chain of 2000 vertices in shuffled order
    comp = part_labels.components(2003, order[:-1], order[1:])
    assert len(np.unique(comp[:2000])) == 1 and comp[2000] == 2000 and comp[2002] == 2002
    assert comp[order[0]] == 0                                # named by its smallest vertex


def test_a_shin_capsule_lifted_in_front_of_the_calf_is_moved_onto_it():
    # a shin: a 6 cm cylinder along Z, its bone placed 3.5 cm in front of it (-Y), as a knee lifted through a
    # skirt puts it: the calf's back lies 9.5 cm from the bone, outside a capsule of 8 cm
    angle, z = np.meshgrid(np.linspace(0, 2 * np.pi, 48, endpoint=False), np.linspace(0.1, 0.5, 30))
    pts = np.c_[0.06 * np.cos(angle.ravel()), 0.06 * np.sin(angle.ravel()), z.ravel()]
    normals = np.c_[np.cos(angle.ravel()), np.sin(angle.ravel()), np.zeros(angle.size)]
    names = ["Hips", "LeftUpperLeg", "LeftLowerLeg"]
    heads = np.array([[0.0, 0.0, 0.9], [0.0, -0.035, 0.9], [0.0, -0.035, 0.5]])
    tails = np.array([[0.0, 0.0, 1.2], [0.0, -0.035, 0.5], [0.0, -0.035, 0.1]])
    radii = np.array([0.0, 0.1, 0.08])
    calf = pts[:, 1] > 0.05
    assert (part_labels.assign_parts(pts, heads, tails, radii, names, normals)[calf] == -1).any()
    h, t = part_labels.centred_axes(pts, normals, heads, tails, radii, names)
    assert abs(h[2, 1]) < 0.012 and abs(t[2, 1]) < 0.012       # onto the shin's centre line, in depth
    assert np.allclose(h[2, [0, 2]], heads[2, [0, 2]]) and np.allclose(h[:2], heads[:2])   # X, Z and thighs kept
    assert (part_labels.assign_parts(pts, h, t, radii, names, normals)[calf] == 2).all()


def test_turning_the_head_leaves_the_shoulders_and_the_base_of_the_neck():
    names, parents = ["Hips", "Spine", "Neck", "Head"], [None, 0, 1, 2]
    heads = np.array([[0, 0, 0.9], [0, 0, 1.1], [0, 0, 1.45], [0, 0, 1.55]])
    tails = np.array([[0, 0, 1.1], [0, 0, 1.45], [0, 0, 1.55], [0, 0, 1.75]])
    z = np.linspace(1.3, 1.75, 46)
    pts = np.c_[np.full_like(z, 0.06), np.zeros_like(z), z]             # up the side of the neck and head
    w = part_weights.part_weights(pts, heads, tails, names, parents, height=1.75, falloff=0.05)
    head = w[:, 3]
    assert head[z <= 1.45].max() == 0.0                                  # shoulders, base of the neck: still
    assert (np.diff(head[(z > 1.45) & (z < 1.6)]) >= -1e-9).all()        # fading in along the neck
    assert head[z >= 1.6].min() > 0.5                                    # the head itself turns


def test_an_arm_capsule_is_wider_on_the_side_away_from_the_spine():
    # an upper arm hanging 0.2 m from the spine, its bone 2 cm off towards the spine: points on the arm's outer
    # side 1.15 capsule radii from the bone belong to the arm; points as far on its inner side (the torso it
    # lies against) do not; nor do outer points next to the shoulder
    names, parents = ["Hips", "Spine", "LeftUpperArm"], [None, 0, 1]
    heads = np.array([[0, 0, 0.9], [0, 0, 1.1], [0.2, 0, 1.45]])
    tails = np.array([[0, 0, 1.1], [0, 0, 1.45], [0.2, 0, 1.15]])
    radii = np.array([0.0, 0.0, 0.06])
    z = np.array([1.3, 1.35, 1.25])
    outer = np.c_[np.full(3, 0.2 + 1.15 * 0.06), np.zeros(3), z]
    inner = np.c_[np.full(3, 0.2 - 1.15 * 0.06), np.zeros(3), z]
    shoulder = np.array([[0.2 + 1.15 * 0.06, 0.0, 1.44]])
    pts = np.r_[outer, inner, shoulder]
    growth = part_labels.outer_growth(pts, heads, tails, names)
    assert (growth[:3, 2] == part_labels.OUTER_GROWTH).all() and (growth[3:, 2] == 1.0).all()
    assert (growth[:, :2] == 1.0).all()
    part = part_labels.assign_parts(pts, heads, tails, radii, names)
    assert (part[:3] == 2).all() and (part[3:] == -1).all()


def test_a_belly_under_a_resting_forearm_is_not_the_forearms():
    # a forearm lying across the belly: a belly point inside its capsule, below it, whose normal turns 65
    # degrees from the direction away from the bone (cosine 0.42: passes the general rule, 0.3) stays the
    # torso's for a forearm or hand (FACING_OF, 0.5); an upper arm keeps the general rule
    names, parents = ["Hips", "Spine", "LeftUpperArm", "LeftLowerArm"], [None, 0, 1, 2]
    heads = np.array([[0, 0, 0.9], [0, 0, 1.1], [0.25, 0, 1.45], [0.25, 0, 1.2]])
    tails = np.array([[0, 0, 1.1], [0, 0, 1.45], [0.25, 0, 1.2], [0.05, 0, 1.2]])
    radii = np.array([0.0, 0.0, 0.06, 0.06])
    mid_fore = 0.5 * (heads[3] + tails[3])
    mid_upper = 0.5 * (heads[2] + tails[2])
    offset = np.array([0.0, 0.0, -0.04])                           # 4 cm below each bone's middle
    tilt = np.array([np.sin(np.radians(65)), 0.0, -np.cos(np.radians(65))])   # cosine 0.42 with straight down
    pts = np.array([mid_fore + offset, mid_upper + np.array([0.04, 0.0, 0.0])])
    normals = np.array([tilt, [np.cos(np.radians(65)), 0.0, np.sin(np.radians(65))]])   # both cosine 0.42
    part = part_labels.assign_parts(pts, heads, tails, radii, names, normals)
    assert part[0] == -1 and part[1] == 2
    assert part_labels.FACING < 0.42 < part_labels.FACING_OF["LowerArm"]


def test_an_arms_core_is_the_arms_whichever_way_it_faces():
    # a forearm whose bone, lifted from the photo, runs 2 cm under the arm's own surface: that surface's
    # normal points across the bone (cosine 0 with the direction away from it), which the facing rule alone
    # gives the torso; within FACING_CORE of the capsule's radius it is the arm's, farther out the rule holds
    names = ["Hips", "Spine", "LeftUpperArm", "LeftLowerArm"]
    heads = np.array([[0, 0, 0.9], [0, 0, 1.1], [0.25, 0, 1.45], [0.25, 0, 1.2]])
    tails = np.array([[0, 0, 1.1], [0, 0, 1.45], [0.25, 0, 1.2], [0.25, 0, 0.95]])
    radii = np.array([0.0, 0.0, 0.07, 0.06])
    core = 0.5 * part_labels.FACING_CORE * radii[3]
    out = 1.5 * part_labels.FACING_CORE * radii[3]
    pts = np.array([[0.25, -core, 1.07], [0.25, -out, 1.07]])
    normals = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])           # across the bone: cosine 0
    assert np.allclose(part_labels.facing(pts, normals, heads, tails)[:, 3], 0.0)
    assert list(part_labels.assign_parts(pts, heads, tails, radii, names, normals)) == [3, -1]
    assert list(part_labels.assign_parts(pts, heads, tails, radii, None, normals)) == [-1, -1]   # arms unknown


def test_the_armpit_beside_an_upper_arm_is_the_torsos():
    # an upper arm hanging 0.2 m from the spine: a point half a capsule radius from the bone on its side towards
    # the spine, just below the shoulder's joint, is the armpit or the chest beside it (torso); the same on the
    # outer side, or on the inner side lower down the arm, is the arm's
    names, parents = ["Hips", "Spine", "LeftUpperArm"], [None, 0, 1]
    heads = np.array([[0, 0, 0.9], [0, 0, 1.1], [0.2, 0, 1.45]])
    tails = np.array([[0, 0, 1.1], [0, 0, 1.45], [0.2, 0, 1.15]])
    radii = np.array([0.0, 0.0, 0.06])
    below_joint = 1.45 - 0.5 * part_labels.ARMPIT_TO * 0.3      # halfway down the armpit's stretch
    low = 1.45 - 1.5 * part_labels.ARMPIT_TO * 0.3              # past it
    pts = np.array([[0.2 - 0.03, 0.0, below_joint], [0.2 + 0.03, 0.0, below_joint], [0.2 - 0.03, 0.0, low]])
    sides = part_labels.arm_sides(pts, heads, tails, names)
    assert set(sides) == {2}
    assert list(sides[2][1]) == [False, True, False]               # inner, outer, inner
    part = part_labels.assign_parts(pts, heads, tails, radii, names)
    assert list(part) == [-1, 2, 2]


def test_the_armpit_of_an_arm_held_out_is_beneath_it():
    # an upper arm held out sideways (T-pose): its side towards the spine is ill-defined, the armpit is the side
    # towards the middle of the torso, beneath the arm: a point below the bone near the shoulder is torso, the
    # points above it and in front of it are the arm's
    names, parents = ["Hips", "Spine", "LeftUpperArm"], [None, 0, 1]
    heads = np.array([[0, 0, 0.9], [0, 0, 1.1], [0.2, 0, 1.45]])
    tails = np.array([[0, 0, 1.1], [0, 0, 1.45], [0.5, 0, 1.45]])
    radii = np.array([0.0, 0.0, 0.06])
    x = 0.2 + 0.5 * part_labels.ARMPIT_TO * 0.3
    pts = np.array([[x, 0.0, 1.45 - 0.03], [x, 0.0, 1.45 + 0.03], [x, -0.03, 1.45]])
    part = part_labels.assign_parts(pts, heads, tails, radii, names)
    assert list(part) == [-1, 2, 2]


def _loft(profile: list[tuple[float, float, float]], around: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """A closed tube through elliptic rings (z, half-width in x, half-depth in y), capped at both ends:
    (vertices [V, 3], faces [F, 3])."""
    angle = np.linspace(0, 2 * np.pi, around, endpoint=False)
    rings = [np.c_[a * np.cos(angle), b * np.sin(angle), np.full(around, z)] for z, a, b in profile]
    v = np.r_[np.concatenate(rings), [[0, 0, profile[0][0]], [0, 0, profile[-1][0]]]]
    faces = []
    for r in range(len(profile) - 1):
        for k in range(around):
            a, b = r * around + k, r * around + (k + 1) % around
            faces += [[a, b, b + around], [a, b + around, a + around]]
    bottom, top, last = len(v) - 2, len(v) - 1, (len(profile) - 1) * around
    for k in range(around):
        faces += [[bottom, (k + 1) % around, k], [top, last + k, last + (k + 1) % around]]
    return v, np.array(faces)


def _neck_and_head() -> tuple[np.ndarray, np.ndarray, list[str], list[int | None], np.ndarray, np.ndarray]:
    """Chest, shoulders sloping up into a neck, a head (a tube lofted through rings, 5 mm apart up the neck),
    with a Humanoid spine, neck, head and collarbones: (vertices, faces, names, parents, heads, tails)."""
    z = np.r_[np.linspace(1.0, 1.40, 9), np.linspace(1.42, 1.50, 17), np.linspace(1.505, 1.62, 24),
              np.linspace(1.63, 1.84, 22)]
    shoulders = np.interp(z, [1.0, 1.42, 1.51, 1.53], [0.16, 0.20, 0.12, 0.06])
    head = np.interp(z, [1.53, 1.60, 1.66, 1.80, 1.84], [0.06, 0.06, 0.09, 0.09, 0.03])
    width = np.where(z < 1.53, shoulders, head)
    depth = np.minimum(width, np.interp(z, [1.0, 1.45, 1.52], [0.11, 0.09, 0.06]))
    v, f = _loft(list(zip(z, width, depth)))
    names = ["Hips", "Spine", "Chest", "UpperChest", "Neck", "Head", "LeftShoulder", "RightShoulder"]
    parents: list[int | None] = [None, 0, 1, 2, 3, 4, 3, 3]
    heads = np.array([[0, 0, 0.95], [0, 0, 1.05], [0, 0, 1.2], [0, 0, 1.35], [0, 0, 1.45], [0, 0, 1.55],
                      [0.03, 0, 1.43], [-0.03, 0, 1.43]])
    tails = np.array([[0, 0, 1.05], [0, 0, 1.2], [0, 0, 1.35], [0, 0, 1.45], [0, 0, 1.55], [0, 0, 1.84],
                      [0.18, 0, 1.42], [-0.18, 0, 1.42]])
    return v, f, names, parents, heads, tails


def _turned(v: np.ndarray, w: np.ndarray, bones: list[int], pivot: np.ndarray, axis: int, degrees: float
            ) -> np.ndarray:
    """``v`` [N, 3] skinned by ``w``, the ``bones`` turned together about coordinate ``axis`` at ``pivot``."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = [k for k in range(3) if k != axis]
    spin = np.eye(3)
    spin[i, i], spin[i, j], spin[j, i], spin[j, j] = c, -s, s, c
    return v + w[:, bones].sum(axis=1, keepdims=True) * ((v - pivot) @ spin.T + pivot - v)


def _stretch(v: np.ndarray, posed: np.ndarray, f: np.ndarray) -> np.ndarray:
    edges = np.unique(np.sort(np.r_[f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=1), axis=0)
    return (np.linalg.norm(posed[edges[:, 0]] - posed[edges[:, 1]], axis=1)
            / np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1))


def test_turning_the_head_twists_the_neck_and_leaves_the_shoulders():
    """Turning the head 45 degrees turns the head whole, twists the neck without stretching an edge past 2x
    and moves no shoulder point (wider than the neck) by 1 cm. Before, the shoulders beside the neck took a
    tenth of the head and, with five bones near the neck, the head's weight dropped out at once between
    neighbours (edges stretched up to 12x on people)."""
    v, f, names, parents, heads, tails = _neck_and_head()
    w = part_weights.part_weights(v, heads, tails, names, parents, height=1.84, falloff=0.055,
                                  part=np.full(len(v), -1), faces=f)
    posed = _turned(v, w, [5], heads[5], axis=2, degrees=45.0)
    assert _stretch(v, posed, f).max() < 2.0
    shoulder = np.hypot(v[:, 0], v[:, 1]) > 0.1
    assert np.linalg.norm(posed - v, axis=1)[shoulder].max() < 0.01
    assert w[v[:, 2] > 1.7, 5].min() > 0.95                              # the head turns whole


def test_a_head_thrust_forwards_turns_nothing_below_the_neck():
    """A skier's crouch seen from the side: the neck's axis points forwards more than up, and the chest and an arm
    reaching out in front, far below the neck's base, lie "above" the base along that axis. They turn with the
    head not at all (they took a tenth to a quarter of the turn and a photo's chest tore, 205 edges past 3x);
    the head itself still turns whole."""
    base, head = np.array([0.0, 0.0, 1.35]), np.array([-0.09, 0.0, 1.42])
    below = np.array([[-0.4, 0.0, 1.0], [-0.3, 0.05, 1.2], [-0.2, 0.0, 1.34]])    # the arm out in front, the chest
    assert (part_weights.neck_twist(below, base, head, 0.03) == 0.0).all()
    top = np.array([[-0.15, 0.0, 1.62]])                                          # the top of the head
    assert part_weights.neck_twist(top, base, head, 0.03)[0] == 1.0


def test_bending_the_neck_leaves_the_torso_beside_an_arms_root():
    """The same body with its left shoulder's end an upper arm's (its root follows only the collarbone there):
    bending the neck 30 degrees forward moves the torso vertices that share an edge with the arm by under
    2 mm, so nothing tears between them. Before, they followed the neck by a tenth (8 mm here; the cut's
    copies along the arm's root lie fractions of a millimetre apart on people: edges stretched up to 24x)."""
    v, f, names, parents, heads, tails = _neck_and_head()
    names, parents = names + ["LeftUpperArm"], parents + [6]
    heads, tails = np.r_[heads, [[0.18, 0, 1.42]]], np.r_[tails, [[0.2, 0, 1.1]]]
    part = np.where((v[:, 0] > 0.13) & (v[:, 2] < 1.48), 8, -1)
    w = part_weights.part_weights(v, heads, tails, names, parents, height=1.84, falloff=0.055, part=part, faces=f)
    posed = _turned(v, w, [4, 5], heads[4], axis=0, degrees=30.0)
    pairs = np.r_[f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]
    beside = np.unique(pairs[(part[pairs[:, 0]] == 8) & (part[pairs[:, 1]] == -1), 1])
    assert len(beside) >= 10
    assert np.linalg.norm(posed - v, axis=1)[beside].max() < 0.002


LEG_NAMES = ["Hips", "Spine", "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToes"]
LEG_PARENTS = [None, 0, 0, 2, 3, 4]
# a standing left leg (Z up, facing -Y): hip 0.9 m, knee 0.5 m, ankle 0.09 m, the foot forward and down
LEG_HEADS = np.array([[0.0, 0, 0.95], [0.0, 0, 1.05], [0.09, 0, 0.9], [0.09, 0, 0.5], [0.09, 0, 0.09],
                      [0.09, -0.13, 0.03]])
LEG_TAILS = np.array([[0.0, 0, 1.05], [0.0, 0, 1.45], [0.09, 0, 0.5], [0.09, 0, 0.09], [0.09, -0.13, 0.03],
                      [0.09, -0.2, 0.03]])


def test_a_heel_below_the_ankle_is_the_foots():
    # the plane bisecting shin and foot runs back up from the ankle: the heel and the back of a shoe below the
    # ankle lie before it (the shin's); the plane across the shin gives them to the foot, while the back of
    # the leg above the ankle stays the shin's
    heel = np.array([[0.09, 0.06, 0.055], [0.09, 0.08, 0.045]])            # behind, 3.5 and 4.5 cm below the ankle
    calf = np.array([[0.09, 0.05, 0.13]])                                   # behind, 4 cm above it
    pts = np.r_[heel, calf]
    limb = np.array([bool(part_labels.bone_kind(n)[0]) for n in LEG_NAMES])
    normals = part_weights.joint_normals(LEG_HEADS, LEG_TAILS, LEG_PARENTS, limb)
    assert ((heel - LEG_HEADS[4]) @ normals[4] < 0).all()                  # the bisecting plane alone: shin
    w = part_weights.part_weights(pts, LEG_HEADS, LEG_TAILS, LEG_NAMES, LEG_PARENTS, height=1.75, falloff=0.05,
                                  part=np.full(3, 3))
    assert (w[:2].argmax(axis=1) == 4).all() and w[2].argmax() == 3 and w[2, 4] == 0.0


def leg_tube(radius, z0, z1, n=40):
    """Points on a vertical tube round the left shin's axis (x 0.09, y 0) between heights z0 and z1."""
    angle, z = np.meshgrid(np.linspace(0, 2 * np.pi, n, endpoint=False), np.linspace(z0, z1, 12))
    return np.c_[0.09 + radius * np.cos(angle.ravel()), radius * np.sin(angle.ravel()), z.ravel()]


def shoe_top(half_width, n=12):
    """Points on a shoe's top ahead of the ankle (-Y), 4 cm above the floor."""
    x, y = np.meshgrid(np.linspace(-half_width, half_width, n), np.linspace(-0.2, -0.02, 3 * n))
    return np.c_[0.09 + x.ravel(), y.ravel(), np.full(x.size, 0.04)]


def test_a_trouser_hem_wider_than_the_shoe_is_the_shins():
    # loose trousers: a tube of 12 cm radius from the floor up past the ankle over a shoe 4.5 cm half-wide; the
    # hem's points below the ankle (labelled foot by the ankle's planes) are the shin's, the shoe's toe cap
    # outside the hem stays the foot's. A leg 5 cm wide over the same shoe keeps its foot
    for radius, hem in ((0.12, True), (0.05, False)):
        tube = leg_tube(radius, 0.01, 0.3)
        shoe = shoe_top(0.045)
        pts = np.r_[tube, shoe]
        part = np.r_[np.where(tube[:, 2] < 0.09, 4, 3), np.full(len(shoe), 4)]
        out = part_labels.hem_over_foot(pts, part, LEG_HEADS, LEG_TAILS, LEG_NAMES, height=1.75)
        below = np.r_[tube[:, 2] < 0.09, np.zeros(len(shoe), bool)]
        if hem:
            assert (out[below] == 3).all()
            ahead = np.r_[np.zeros(len(tube), bool), shoe[:, 1] < -0.13]
            assert (out[ahead] == 4).all()
        else:
            assert np.array_equal(out, part)


def test_a_thigh_capsule_widens_towards_the_hip_but_not_under_a_hand():
    # a point on the outside of the thigh near its top, just past its capsule, belongs to the thigh with the
    # taper; a point as far out above the hip joint does not widen it, nor one beside a resting hand
    names = LEG_NAMES + ["LeftHand"]
    radii = np.array([0.0, 0.0, 0.1, 0.06, 0.06, 0.05, 0.03])
    pts = np.array([[0.09 + 0.108, 0.0, 0.82], [0.09 + 0.108, 0.0, 0.93]])   # 1.08 radii out: beside, above
    away = (np.r_[LEG_HEADS, [[0.5, 0.0, 1.0]]], np.r_[LEG_TAILS, [[0.5, 0.0, 0.9]]])     # a hand far off
    grow = part_labels.thigh_taper(pts, *away, names, radii)
    assert 1.08 < grow[0, 2] <= 1 + part_labels.THIGH_TAPER and grow[1, 2] == 1.0 and (grow[:, 3:] == 1).all()
    assert part_labels.assign_parts(pts[:1], *away, radii, names)[0] == -1
    assert part_labels.assign_parts(pts[:1], *away, radii, names, growth=grow[:1])[0] == 2
    resting = (np.r_[LEG_HEADS, [[0.24, 0.0, 0.88]]], np.r_[LEG_TAILS, [[0.24, 0.0, 0.8]]])  # 4 cm from the point
    assert part_labels.thigh_taper(pts, *resting, names, radii)[0, 2] == 1.0


def test_the_hip_plane_rises_towards_the_outside():
    # points of the thigh 1 cm above the hip joint, 11 cm to either side: on its outer side (the side of the
    # hip) they turn a little with the thigh, on its inner side (the groin) not at all; 5 cm below the joint
    # the outer side is the thigh's, the inner side only fading in (a level plane gives both 0 and 0.71)
    pts = np.array([[0.2, 0.0, 0.91], [-0.02, 0.0, 0.91], [0.18, 0.0, 0.85], [0.0, 0.0, 0.85]])
    w = part_weights.part_weights(pts, LEG_HEADS, LEG_TAILS, LEG_NAMES, LEG_PARENTS, height=1.75, falloff=0.05,
                                  part=np.full(4, 2))
    assert w[0, 2] > 0.1 and w[1, 2] == 0.0 and w[2, 2] > 0.95 and 0.0 < w[3, 2] < 0.5


def test_a_hem_over_the_shoe_is_cut_from_it_but_the_ankle_stays_joined():
    # a block round the left ankle: shin above the ankle's planes, foot below, but for a piece of hem at the
    # back reaching 8 cm below the ankle (labelled shin, as hem_over_foot labels it): the mesh is cut where hem
    # and shoe meet, not along the ankle, so turning the foot 45 degrees leaves the hem without stretching an
    # edge past 3x (uncut: 5.4x; cut: 1.8x)
    v, f = box_grid([0.04, -0.05, 0.0], [0.14, 0.05, 0.3], 12)
    limb = np.array([bool(part_labels.bone_kind(n)[0]) for n in LEG_NAMES])
    planes = part_weights.limb_planes(LEG_HEADS, LEG_TAILS, LEG_NAMES, LEG_PARENTS,
                                     part_weights.joint_normals(LEG_HEADS, LEG_TAILS, LEG_PARENTS, limb))
    part = part_weights.split_at_joints(v, np.where(v[:, 2] > 0.09, 3, 4), LEG_HEADS, planes, LEG_PARENTS, limb)
    hem = (v[:, 1] > 0.02) & (v[:, 2] >= 0.01)
    part[hem] = 3
    radii = np.array([0.0, 0.0, 0.1, 0.06, 0.06, 0.05])
    joined = part_weights.separate(v, f, LEG_HEADS, LEG_TAILS, LEG_PARENTS, radii, part)
    assert len(joined[0]) == len(v)                                       # without planes: one limb, no cut
    nv, nf, source, npart = part_weights.separate(v, f, LEG_HEADS, LEG_TAILS, LEG_PARENTS, radii, part,
                                                  planes, 0.02 * 1.75)[:4]
    after = {tuple(sorted(source[t].tolist())) for t in nf}
    dropped = np.array([t for t in f.tolist() if tuple(sorted(t)) not in after])
    low = v[dropped, 2] < 0.09 - 0.02 * 1.75 + 1e-9
    assert len(dropped) > 0 and (low.sum(axis=1) >= 2).all()   # cut below the ankle only (the unjoined corners)

    def worst_stretch(verts, faces, labels):
        """The most any edge stretches when the foot turns 45 degrees about the ankle (X axis)."""
        w = part_weights.part_weights(verts, LEG_HEADS, LEG_TAILS, LEG_NAMES, LEG_PARENTS, height=1.75,
                                      falloff=0.05, part=labels, faces=faces, split=False)
        c, s_ = np.cos(np.radians(45)), np.sin(np.radians(45))
        turn = np.array([[1, 0, 0], [0, c, -s_], [0, s_, c]])
        target = (verts - LEG_HEADS[4]) @ turn.T + LEG_HEADS[4]
        posed = verts + w[:, 4:].sum(axis=1, keepdims=True) * (target - verts)
        e = np.r_[faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]
        return (np.linalg.norm(posed[e[:, 0]] - posed[e[:, 1]], axis=1)
                / np.linalg.norm(verts[e[:, 0]] - verts[e[:, 1]], axis=1)).max()

    assert worst_stretch(v, f, part) > 3 > worst_stretch(nv, nf, npart)


def test_the_shoulder_plane_of_a_hanging_arm_rises_outwards():
    # a left arm hanging straight down from a shoulder at (0.2, 0, 1.4): a point on the side of the shoulder
    # 7 cm out from the joint and 1 cm above it (the deltoid) turns partly with the arm; one as high above the
    # joint but 7 cm in (the top of the shoulder by the neck) does not (a level plane gives both 0), and a point
    # 6 cm straight below the joint, inside the arm, stays the arm's
    names, parents = ["Hips", "Spine", "LeftShoulder", "LeftUpperArm"], [None, 0, 1, 2]
    heads = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.1], [0.03, 0.0, 1.4], [0.2, 0.0, 1.4]])
    tails = np.array([[0.0, 0.0, 1.1], [0.0, 0.0, 1.4], [0.2, 0.0, 1.4], [0.2, 0.0, 1.1]])
    pts = np.array([[0.27, 0.0, 1.41], [0.13, 0.0, 1.41], [0.2, 0.0, 1.34]])
    w = part_weights.part_weights(pts, heads, tails, names, parents, height=1.75, falloff=0.05,
                                  part=np.full(3, 3))
    assert w[0, 3] > 0.1 and w[1, 3] == 0.0 and w[2, 3] > 0.5
    # an arm held out sideways keeps the plane square to it
    out = np.array([1.0, 0.0, 0.0])
    assert np.allclose(part_weights.shoulder_lean(out, out), out)
    leaned = part_weights.shoulder_lean(np.array([0.0, 0.0, -1.0]), out)
    assert np.degrees(np.arccos(-leaned[2])) == pytest.approx(part_weights.SHOULDER_LEAN)
def test_a_thigh_takes_over_from_the_hips_soon_past_the_plane():
    """A leg's tube (radius 8 cm) joined to the hips above the hip joint, the thigh flexed 60 degrees: on the
    front of the thigh nothing above the hip's plane turns, 3 cm below the joint the thigh's weight is over a
    half (its straight ramp; smoothstep over the same band gave 0.42, hips-heaviest), and no edge stretches
    past 3x (the ramp is no steeper than smoothstep at its middle)."""
    v, f = _loft([(z, 0.08, 0.08) for z in np.linspace(0.4, 1.1, 141)])
    v[:, 0] += 0.09                                                     # round the left thigh's bone
    part = np.where(v[:, 2] < 0.93, 2, -1)
    w = part_weights.part_weights(v, LEG_HEADS, LEG_TAILS, LEG_NAMES, LEG_PARENTS, height=1.75, falloff=0.05,
                                  part=part, faces=f)
    front = np.isclose(v[:, 0], 0.09) & (v[:, 1] < 0)
    assert w[front & (v[:, 2] >= 0.9 - 1e-9), 2:].max() == 0.0          # above the plane: the hips' alone
    assert w[front & np.isclose(v[:, 2], 0.87), 2].min() > 0.5         # 3 cm below the joint: the thigh's
    assert w[front & (v[:, 2] < 0.8), 2:].sum(axis=1).min() == pytest.approx(1.0)   # farther: the leg whole
    for axis in (0, 1):                                                 # flexed, turned out
        posed = _turned(v, w, [2, 3, 4, 5], LEG_HEADS[2], axis=axis, degrees=60.0)
        assert _stretch(v, posed, f).max() < 3.0


def test_a_shoe_turns_with_the_foot_soon_past_the_ankle():
    """A shoe's shaft round the left ankle (a tube of radius 5 cm, rings 5 mm apart): its back 1.5 cm below
    the ankle, past the plane across the shin, is foot-heaviest (the foot's straight ramp; smoothstep over the
    same band gave it 0.32, the shin's), the back of the leg above the ankle does not turn with the foot, and
    no edge stretches past 3x when the foot turns 60 degrees (the ramp is no steeper than smoothstep at its
    middle)."""
    v, f = _loft([(z, 0.05, 0.05) for z in np.linspace(0.0, 0.3, 61)])
    v[:, 0] += 0.09                                                     # round the left shin's bone
    w = part_weights.part_weights(v, LEG_HEADS, LEG_TAILS, LEG_NAMES, LEG_PARENTS, height=1.75, falloff=0.05,
                                  part=np.full(len(v), 3), faces=f)
    back = np.isclose(v[:, 0], 0.09) & (v[:, 1] > 0)
    assert w[back & np.isclose(v[:, 2], 0.075), 4:].sum(axis=1).min() > 0.5     # 1.5 cm below: the foot's
    assert w[back & (v[:, 2] >= 0.09 - 1e-9), 4:].max() == 0.0                  # above the ankle: the shin's
    for axis in (0, 1):                                                 # flexed, turned sideways
        for degrees in (60.0, -60.0):
            posed = _turned(v, w, [4, 5], LEG_HEADS[4], axis=axis, degrees=degrees)
            assert _stretch(v, posed, f).max() < 3.0
