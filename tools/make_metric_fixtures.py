#!/usr/bin/env python3
"""Writes tests/fixtures/metrics/metric_fixtures.json: small inputs and their metric values,
computed here with plain-Python formulas (no numpy, no torch) that follow VGGT's evaluation code
literally where vidprobe reimplements it differently:

* camera: relative poses T_i T_j^-1 over pairs i < j, rotation error from the quaternion dot
  product (arccos(1 - 2 clamp(1 - dot^2, 1e-15))), translation error as acos(sqrt(1 - clamp(1 -
  cos^2, 1e-15))) folded with min(a, |180 - a|), AUC as the mean cumulative unit-bin histogram
  with numpy's closed last bin;
* depth: median (mean of the middle pair for even counts) and closed-form scale-and-shift;
* points: Sim(3) by Horn's quaternion method (largest eigenvector of the 4x4 matrix, by Jacobi
  rotations) instead of Umeyama's SVD, then brute-force nearest neighbours.

Run: python3 tools/make_metric_fixtures.py  (deterministic; the output is committed)."""
import json
import math
import os
import random

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "metrics", "metric_fixtures.json")


# ---------------------------------------------------------------- small linear algebra on lists
def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def transpose(a):
    return [list(row) for row in zip(*a)]


def matvec(a, v):
    return [sum(a[i][k] * v[k] for k in range(len(v))) for i in range(len(a))]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def norm(a):
    return math.sqrt(dot(a, a))


def quat_to_mat(q):
    x, y, z, w = q
    n = x * x + y * y + z * z + w * w
    s = 2.0 / n
    return [
        [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
        [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
        [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)],
    ]


def mat_to_quat(m):
    """Largest-component branch, as in VGGT's mat_to_quat; xyzw with w >= 0."""
    candidates = [1 + m[0][0] + m[1][1] + m[2][2], 1 + m[0][0] - m[1][1] - m[2][2],
                  1 - m[0][0] + m[1][1] - m[2][2], 1 - m[0][0] - m[1][1] + m[2][2]]
    k = max(range(4), key=lambda i: candidates[i])
    r = math.sqrt(candidates[k]) * 2
    if k == 0:
        q = [(m[2][1] - m[1][2]) / r, (m[0][2] - m[2][0]) / r, (m[1][0] - m[0][1]) / r, r / 4]
    elif k == 1:
        q = [r / 4, (m[0][1] + m[1][0]) / r, (m[0][2] + m[2][0]) / r, (m[2][1] - m[1][2]) / r]
    elif k == 2:
        q = [(m[0][1] + m[1][0]) / r, r / 4, (m[1][2] + m[2][1]) / r, (m[0][2] - m[2][0]) / r]
    else:
        q = [(m[0][2] + m[2][0]) / r, (m[1][2] + m[2][1]) / r, r / 4, (m[1][0] - m[0][1]) / r]
    return [-c for c in q] if q[3] < 0 else q


def random_quat(rng):
    q = [rng.gauss(0, 1) for _ in range(4)]
    n = norm(q)
    return [c / n for c in q]


def invert(e):
    rt = transpose([row[:3] for row in e])
    t = [-c for c in matvec(rt, [row[3] for row in e])]
    return [rt[i] + [t[i]] for i in range(3)]


def compose(a, b):
    r = matmul([row[:3] for row in a], [row[:3] for row in b])
    t = [x + y for x, y in zip(matvec([row[:3] for row in a], [row[3] for row in b]), [row[3] for row in a])]
    return [r[i] + [t[i]] for i in range(3)]


# ---------------------------------------------------------------- camera metrics (VGGT formulas)
def camera_case(rng):
    frames = 5
    gt, pred = [], []
    for _ in range(frames):
        r = quat_to_mat(random_quat(rng))
        t = [rng.gauss(0, 2) for _ in range(3)]
        gt.append([r[i] + [t[i]] for i in range(3)])
        # Perturb: a rotation of a few degrees and a translation offset.
        axis = [rng.gauss(0, 1) for _ in range(3)]
        angle = math.radians(rng.uniform(0.2, 4))
        n = norm(axis)
        dq = [c / n * math.sin(angle / 2) for c in axis] + [math.cos(angle / 2)]
        pr = matmul(quat_to_mat(dq), r)
        pt = [c + rng.gauss(0, 0.15) for c in t]
        pred.append([pr[i] + [pt[i]] for i in range(3)])
    rot_errors, trans_errors = [], []
    for i in range(frames):
        for j in range(i + 1, frames):
            rel_gt = compose(gt[i], invert(gt[j]))
            rel_pred = compose(pred[i], invert(pred[j]))
            q_gt = mat_to_quat([row[:3] for row in rel_gt])
            q_pred = mat_to_quat([row[:3] for row in rel_pred])
            loss_q = max(1 - dot(q_pred, q_gt) ** 2, 1e-15)
            rot_errors.append(math.degrees(math.acos(1 - 2 * loss_q)))
            t_gt = [row[3] for row in rel_gt]
            t_pred = [row[3] for row in rel_pred]
            t_gt = [c / (norm(t_gt) + 1e-15) for c in t_gt]
            t_pred = [c / (norm(t_pred) + 1e-15) for c in t_pred]
            loss_t = max(1.0 - dot(t_pred, t_gt) ** 2, 1e-15)
            angle = math.degrees(math.acos(math.sqrt(1 - loss_t)))
            trans_errors.append(min(angle, abs(180 - angle)))

    def auc(k):
        worst = [max(a, b) for a, b in zip(rot_errors, trans_errors)]
        histogram = [0] * k
        for e in worst:
            if 0 <= e < k:
                histogram[int(math.floor(e))] += 1
            elif e == k:
                histogram[k - 1] += 1  # numpy's last bin is closed
        cumulative, total = 0.0, 0.0
        for count in histogram:
            cumulative += count / len(worst)
            total += cumulative
        return total / k

    expected = {"auc%d" % k: auc(k) for k in (5, 15, 30)}
    for k in (5, 15, 30):
        expected["rra%d" % k] = sum(e < k for e in rot_errors) / len(rot_errors)
        expected["rta%d" % k] = sum(e < k for e in trans_errors) / len(trans_errors)
    expected["rot_err_mean"] = sum(rot_errors) / len(rot_errors)
    expected["trans_err_mean"] = sum(trans_errors) / len(trans_errors)
    return {"pred_extrinsics": pred, "gt_extrinsics": gt, "rotation_deg": rot_errors,
            "translation_deg": trans_errors, "metrics": expected}


# ---------------------------------------------------------------- depth metrics
def median(values):
    s = sorted(values)
    n = len(s)
    return (s[(n - 1) // 2] + s[n // 2]) / 2


def depth_case(rng):
    frames, height, width = 2, 3, 4
    gt, pred, valid = [], [], []
    for f in range(frames):
        gt.append([[rng.uniform(0.5, 6) for _ in range(width)] for _ in range(height)])
        scale = 0.3 if f == 0 else 2.0
        pred.append([[scale * d * math.exp(rng.gauss(0, 0.25)) + rng.gauss(0, 0.1) for d in row] for row in gt[f]])
        valid.append([[rng.random() > 0.25 for _ in range(width)] for _ in range(height)])

    def flat(frame_list, f):
        return [frame_list[f][y][x] for y in range(height) for x in range(width) if valid[f][y][x]]

    def scores(aligned_frames):
        abs_rel, hits, count = 0.0, 0, 0
        for f, aligned in aligned_frames:
            for a, g in zip(aligned, flat(gt, f)):
                abs_rel += abs(a - g) / g
                hits += a > 0 and max(a / g, g / a) < 1.25
                count += 1
        return {"abs_rel": abs_rel / count, "delta1": hits / count, "valid_pixels": count}

    expected = {}
    per_frame = []
    for f in range(frames):
        s = median(flat(gt, f)) / median(flat(pred, f))
        per_frame.append((f, [s * p for p in flat(pred, f)]))
    expected["median_per_frame"] = scores(per_frame)
    all_pred = flat(pred, 0) + flat(pred, 1)
    all_gt = flat(gt, 0) + flat(gt, 1)
    s = median(all_gt) / median(all_pred)
    expected["median_per_clip"] = scores([(f, [s * p for p in flat(pred, f)]) for f in range(frames)])
    shifted = []
    for f in range(frames):
        p, g = flat(pred, f), flat(gt, f)
        n = len(p)
        mp, mg = sum(p) / n, sum(g) / n
        s = sum((a - mp) * (b - mg) for a, b in zip(p, g)) / sum((a - mp) ** 2 for a in p)
        shifted.append((f, [s * a + mg - s * mp for a in p]))
    expected["scale_shift_per_frame"] = scores(shifted)
    return {"pred": pred, "gt": gt, "valid": valid, "metrics": expected}


# ---------------------------------------------------------------- point metrics (Horn's method)
def jacobi_largest_eigenvector(a):
    n = len(a)
    a = [row[:] for row in a]
    v = [[float(i == j) for j in range(n)] for i in range(n)]
    for _ in range(100):
        off = max(abs(a[i][j]) for i in range(n) for j in range(n) if i != j)
        if off < 1e-15:
            break
        for p in range(n):
            for q in range(p + 1, n):
                if abs(a[p][q]) < 1e-300:
                    continue
                theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                t = (1 if theta >= 0 else -1) / (abs(theta) + math.sqrt(theta * theta + 1))
                c = 1 / math.sqrt(t * t + 1)
                s = t * c
                for k in range(n):
                    akp, akq = a[k][p], a[k][q]
                    a[k][p], a[k][q] = c * akp - s * akq, s * akp + c * akq
                for k in range(n):
                    apk, aqk = a[p][k], a[q][k]
                    a[p][k], a[q][k] = c * apk - s * aqk, s * apk + c * aqk
                for k in range(n):
                    vkp, vkq = v[k][p], v[k][q]
                    v[k][p], v[k][q] = c * vkp - s * vkq, s * vkp + c * vkq
    best = max(range(n), key=lambda i: a[i][i])
    return [v[k][best] for k in range(n)]


def horn_similarity(src, dst):
    n = len(src)
    ms = [sum(p[i] for p in src) / n for i in range(3)]
    md = [sum(p[i] for p in dst) / n for i in range(3)]
    cs = [[p[i] - ms[i] for i in range(3)] for p in src]
    cd = [[p[i] - md[i] for i in range(3)] for p in dst]
    m = [[sum(a[i] * b[j] for a, b in zip(cs, cd)) for j in range(3)] for i in range(3)]
    (sxx, sxy, sxz), (syx, syy, syz), (szx, szy, szz) = m
    n4 = [[sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
          [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
          [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
          [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz]]
    w, x, y, z = jacobi_largest_eigenvector(n4)
    r = quat_to_mat([x, y, z, w])
    scale = sum(dot(d, matvec(r, s)) for s, d in zip(cs, cd)) / sum(dot(s, s) for s in cs)
    t = [md[i] - scale * matvec(r, ms)[i] for i in range(3)]
    return lambda p: [scale * c + t[i] for i, c in enumerate(matvec(r, p))]


def point_case(rng):
    count = 40
    gt = [[rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(4, 1)] for _ in range(count)]
    valid = [rng.random() > 0.2 for _ in range(count)]
    r = quat_to_mat(random_quat(rng))
    pred = [[0.5 * c + [1.0, -2.0, 0.3][i] + rng.gauss(0, 0.05) for i, c in enumerate(matvec(r, p))] for p in gt]
    src = [p for p, ok in zip(pred, valid) if ok]
    dst = [p for p, ok in zip(gt, valid) if ok]
    align = horn_similarity(src, dst)
    aligned = [align(p) for p in src]
    distance = lambda a, b: norm([x - y for x, y in zip(a, b)])
    err = sum(distance(a, b) for a, b in zip(aligned, dst)) / len(dst)
    accuracy = sum(min(distance(a, b) for b in dst) for a in aligned) / len(aligned)
    completeness = sum(min(distance(b, a) for a in aligned) for b in dst) / len(dst)
    return {"pred": pred, "gt": gt, "valid": valid,
            "metrics": {"err": err, "accuracy": accuracy, "completeness": completeness,
                        "chamfer": (accuracy + completeness) / 2, "valid_points": len(dst)}}


def main():
    rng = random.Random(20251219)
    fixture = {"generator": "tools/make_metric_fixtures.py", "camera": camera_case(rng),
               "depth": depth_case(rng), "points": point_case(rng)}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
