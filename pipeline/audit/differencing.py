"""Disclosure control across rows and tables: the differencing attack, run on ourselves.

The per-table rules (`disclosure.py`) protect each measure table on its own. But the released
cells also obey equations *across* tables: every `failure_causes` row repeats the failed-episode
count (the `iron_failed` numerator), the iron episodes are the denominator of both
`iron_untested` and `iron_monitored`, the B12 and folate episodes add up to the
`just_in_case` denominator, and the headline's whole-period items are the sums of the monthly
cells. An attacker who knows the definitions (docs/measures.md) can subtract along any of
them, so the suppression must hold over all released cells together.

Method (docs/measures.md, "Disclosure across tables"):

1. Every cell i (an aud_* row or a headline item) has three quantities: its numerator, its
   denominator and its complement (denominator - numerator). A released cell shows all three;
   a withheld one none.
2. `Equations` lists every linear identity an attacker knows between them: den = num + comp
   in each cell; inside each measure, groups -> all and months -> quarter (as in
   disclosure.table_constraints); across measures, the identities of `cross_measure` for
   every cell key; the headline items as sums of the monthly 'all' cells (headline.py).
3. The attack is repeated substitution: an equation with exactly one unknown quantity gives
   it away, which may give away the next. `attack` returns everything it learns.
4. A withheld *primary* cell is exposed when a quantity of it that lies between 1 and the
   threshold becomes known. For each exposed cell, one more released cell that the
   derivation used (the one with the smallest denominator) is withheld; then the attack is run
   again, until nothing is exposed.

The attack covers equations, not inequalities: bounds such as numerator <= denominator can
narrow a withheld count to an interval but, with every equation holding at least two unknowns,
not to one value. tests/reliability/test_disclosure_attack.py attacks the released files of a
whole report with a linear-programming solver (equations, bounds and, with rounding, the
rounding intervals) and checks that no withheld count is recovered.

    >>> eqs = Equations()
    >>> eqs.add([q(0, NUM), q(1, NUM), q(2, NUM)])  # total = part 1 + part 2
    >>> known, _ = attack(9, eqs, [True, True, True, False, False, False, True, True, True])
    >>> bool(known[q(1, NUM)])
    True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

NUM, DEN, COMP = 0, 1, 2
KEY = ("period_type", "period_start", "group_by", "group_value")


def q(cell: int, part: int) -> int:
    """The id of quantity `part` (NUM, DEN or COMP) of cell `cell`."""
    return 3 * cell + part


class Equations:
    """Linear identities between quantities: each is its members and their coefficients
    (sum of coefficient x quantity = 0). Substitution needs only the members; the linear
    algebra of `determined` needs the coefficients too."""

    def __init__(self) -> None:
        self.members: list[tuple[int, ...]] = []
        self.coefs: list[tuple[int, ...]] = []
        self.is_sum: list[bool] = []  # the first member is the sum of the others
        self._arrays: tuple | None = None
        self._by_quantity: tuple | None = None

    def add(self, quantities: Iterable[int | None]) -> None:
        """total = sum of the rest, written total first; None stands for a cell that does not
        exist (a count of 0, known)."""
        quantities = list(quantities)
        self._append([(x, 1 if i == 0 else -1) for i, x in enumerate(quantities)], len(quantities))

    def balance(self, left: Iterable[int | None], right: Iterable[int | None]) -> None:
        """sum of `left` = sum of `right`."""
        terms = [(x, 1) for x in left] + [(x, -1) for x in right]
        self._append(terms, 0)

    def _append(self, terms: list[tuple[int | None, int]], sum_of: int) -> None:
        combined: dict[int, int] = {}
        for x, c in terms:
            if x is not None:
                combined[x] = combined.get(x, 0) + c
        combined = {x: c for x, c in combined.items() if c}
        if combined:
            self.members.append(tuple(combined))
            self.coefs.append(tuple(combined.values()))
            first = terms[0][0] if terms else None
            self.is_sum.append(sum_of > 0 and first is not None and len(combined) == sum_of)
            self._arrays = self._by_quantity = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(members of all equations end to end, the equation of each, where each starts)."""
        if self._arrays is None:
            self._arrays = self._build()
        return self._arrays

    def coef_array(self) -> np.ndarray:
        """The coefficient of each entry of `arrays`, in the same order."""
        return np.fromiter((c for cs in self.coefs for c in cs), dtype=np.float64, count=len(self.arrays()[0]))

    def by_quantity(self, n_quantities: int) -> tuple[np.ndarray, np.ndarray]:
        """(entries of `arrays` grouped by quantity, where each quantity's group starts)."""
        if self._by_quantity is None or len(self._by_quantity[1]) != n_quantities + 1:
            flat = self.arrays()[0]
            order = np.argsort(flat, kind="stable")
            self._by_quantity = order, np.searchsorted(flat[order], np.arange(n_quantities + 1))
        return self._by_quantity

    def _build(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sizes = np.fromiter((len(m) for m in self.members), dtype=np.int64, count=len(self.members))
        flat = np.fromiter((x for m in self.members for x in m), dtype=np.int64, count=int(sizes.sum()))
        return flat, np.repeat(np.arange(len(sizes)), sizes), np.concatenate([[0], np.cumsum(sizes)])

    def cells(self, n: int) -> None:
        """den = num + comp for cells 0..n-1."""
        for i in range(n):
            self.add((q(i, DEN), q(i, NUM), q(i, COMP)))

    def sums(self, total: int, parts: Sequence[int]) -> None:
        """total = sum of parts, for numerators, denominators and complements."""
        for part in (NUM, DEN, COMP):
            self.add([q(total, part), *(q(p, part) for p in parts)])


def attack(n_quantities: int, eqs: Equations, known: Sequence[bool]) -> tuple[np.ndarray, dict[int, int]]:
    """Repeated substitution from the `known` quantities: returns what becomes known and, for
    each quantity learnt, the equation that gave it."""
    known = np.array(known, dtype=bool).copy()
    flat, eq_of, starts = eqs.arrays()
    unknown = np.bincount(eq_of, weights=~known[flat], minlength=len(starts) - 1).astype(np.int64)
    order, q_start = eqs.by_quantity(n_quantities)  # the equations of each quantity, grouped
    queue = list(np.flatnonzero(unknown == 1))
    derived: dict[int, int] = {}
    while queue:
        e = queue.pop()
        if unknown[e] != 1:
            continue
        members = flat[starts[e] : starts[e + 1]]
        x = int(members[~known[members]][0])
        known[x] = True
        derived[x] = int(e)
        for e2 in eq_of[order[q_start[x] : q_start[x + 1]]]:
            unknown[e2] -= 1
            if unknown[e2] == 1:
                queue.append(e2)
    return known, derived


def _released_sources(x: int, eqs: Equations, derived: dict[int, int], shown: np.ndarray) -> set[int]:
    """The released cells whose quantities the derivation of quantity `x` used."""
    return _sources(x, eqs, shown, lambda y: [derived[y]] if y in derived else [])


def _sources(x: int, eqs: Equations, shown: np.ndarray, equations_of, through_released: bool = False) -> set[int]:
    """The released cells reached from quantity `x` through `equations_of(quantity)` (the
    equations that made each quantity known or narrowed it); the walk stops at a released
    quantity unless `through_released` (bounds: a released interval can be narrowed too)."""
    out: set[int] = set()
    stack, seen = [x], set()
    while stack:
        y = stack.pop()
        if y in seen:
            continue
        seen.add(y)
        if shown[y]:
            out.add(y // 3)
            if not through_released:
                continue
        for e in equations_of(y):
            stack.extend(m for m in eqs.members[e] if m != y)
    return out


def exposed(num, den, withheld, primary, known: np.ndarray, threshold: int) -> list[tuple[int, int]]:
    """(cell, quantity id) of every withheld primary cell with a small quantity now known."""
    values = np.stack([num, den, den - num], axis=1)
    small = (values >= 1) & (values <= threshold) & known.reshape(-1, 3)
    small &= (np.asarray(withheld) & np.asarray(primary))[:, None]
    cells = np.flatnonzero(small.any(axis=1))
    return [(int(i), q(int(i), int(np.argmax(small[i])))) for i in cells]


def pinned_by_floors(values: np.ndarray, floors: np.ndarray, eqs: Equations, known: np.ndarray) -> list[int]:
    """Equations whose unknown parts are pinned by their lower bounds: the total and the
    other parts are known, so the unknown parts' sum is known, and it equals the sum of their
    floors (a row present in a table has a denominator of at least 1), so each part is at its
    floor. Returns the equation indices (the attack by bounds that substitution misses)."""
    flat, eq_of, starts = eqs.arrays()
    n = len(starts) - 1
    is_part = np.ones(len(flat), dtype=bool)
    is_part[starts[:-1]] = False
    unknown = is_part & ~known[flat]
    count = np.bincount(eq_of[unknown], minlength=n)
    total = np.bincount(eq_of[unknown], weights=values[flat[unknown]], minlength=n)
    floor = np.bincount(eq_of[unknown], weights=floors[flat[unknown]], minlength=n)
    ok = np.asarray(eqs.is_sum, dtype=bool) & known[flat[starts[:-1]]] & (count >= 2) & (total == floor)
    return [int(e) for e in np.flatnonzero(ok)]


def _matrix(eqs: Equations, known: np.ndarray):
    """The equations with an unknown member as a sparse matrix over the unknown quantities
    (`cols`) and one over the known ones (`known_cols`)."""
    from scipy.sparse import coo_matrix

    flat, eq_of, _ = eqs.arrays()
    coef = eqs.coef_array()
    rows = np.unique(eq_of[~known[flat]])
    row_of = np.full(len(eqs.members), -1, dtype=np.int64)
    row_of[rows] = np.arange(len(rows))
    keep = row_of[eq_of] >= 0
    out = []
    for mask in (~known, known):
        cols = np.flatnonzero(mask)
        col_of = np.full(len(known), -1, dtype=np.int64)
        col_of[cols] = np.arange(len(cols))
        sel = keep & mask[flat]
        m = coo_matrix((coef[sel], (row_of[eq_of[sel]], col_of[flat[sel]])), shape=(len(rows), len(cols)))
        out += [m.tocsr(), cols]
    return out


def determined(eqs: Equations, known: np.ndarray, targets: Iterable[int]) -> dict[int, set[int]]:
    """The `targets` (unknown quantities) that a linear combination of the equations gives
    away, though no single equation does (what substitution misses: e.g. all episodes - iron
    episodes = the B12 + folate episodes, the just_in_case denominator). For each, the known
    quantities that a combination giving it uses.

    A quantity is determined when every solution of the homogeneous system over the unknowns
    has it 0: two random vectors are projected on that null space (sparse least squares) and
    the quantities that come out 0 in both are the determined ones. For each, the smallest
    neighbourhood of equations around it that already determines it gives the combination
    (`local_combination`)."""
    from scipy.sparse.linalg import lsmr

    known = np.asarray(known, dtype=bool)
    targets = sorted({int(t) for t in targets if not known[t]})
    if not targets:
        return {}
    a, cols, a_known, known_cols = _matrix(eqs, known)
    col_of = np.full(len(known), -1, dtype=np.int64)
    col_of[cols] = np.arange(len(cols))
    targets = [t for t in targets if col_of[t] >= 0]  # a quantity in no open equation is free
    if a.shape[0] == 0 or not targets:
        return {}
    rng = np.random.default_rng(0)
    size = np.zeros(a.shape[1])
    for _ in range(2):
        w = rng.standard_normal(a.shape[1])
        y = lsmr(a.T, w, atol=1e-12, btol=1e-12, maxiter=50_000)[0]
        size = np.maximum(size, np.abs(w - a.T @ y))
    out: dict[int, set[int]] = {}
    for t in targets:
        if size[col_of[t]] > 1e-6 or any(t // 3 == x // 3 for x in out):  # one quantity per cell
            continue
        used = local_combination(eqs, known, t)
        if used is None:  # a long combination: the strongest weights of the least-squares one
            unit = np.zeros(a.shape[1])
            unit[col_of[t]] = 1.0
            weight = np.abs(a_known.T @ lsmr(a.T, unit, atol=1e-12, btol=1e-12, maxiter=50_000)[0])
            used = {int(known_cols[j]) for j in np.flatnonzero(weight >= 0.1 * weight.max())} if weight.size else set()
        out[t] = used
    return out


def local_combination(eqs: Equations, known: np.ndarray, x: int, max_equations: int = 600) -> set[int] | None:
    """The known quantities of a combination of equations that gives the unknown `x`: the
    equations within 1, 2, ... steps of `x` (through unknown quantities) are tried until they
    determine it on their own; None when none does within `max_equations`."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import lsmr

    eq_of = eqs.arrays()[1]
    order, q_start = eqs.by_quantity(len(known))
    rows: list[int] = []
    seen_eq: set[int] = set()
    seen_q = {x}
    frontier = [x]
    while frontier:
        new_eqs = {int(e) for y in frontier for e in eq_of[order[q_start[y] : q_start[y + 1]]]} - seen_eq
        if not new_eqs or len(rows) + len(new_eqs) > max_equations:
            return None
        seen_eq |= new_eqs
        rows += sorted(new_eqs)
        frontier = []
        for e in new_eqs:
            for m in eqs.members[e]:
                if not known[m] and m not in seen_q:
                    seen_q.add(m)
                    frontier.append(m)
        unknown = sorted(seen_q)
        col = {m: j for j, m in enumerate(unknown)}
        a = np.zeros((len(rows), len(unknown)))
        for i, e in enumerate(rows):
            for m, c in zip(eqs.members[e], eqs.coefs[e], strict=True):
                if m in col:
                    a[i, col[m]] = c
        unit = np.zeros(len(unknown))
        unit[col[x]] = 1.0
        y = lsmr(csr_matrix(a.T), unit, atol=1e-12, btol=1e-12, maxiter=20_000)[0]
        if np.abs(a.T @ y - unit).max() < 1e-8:
            weight: dict[int, float] = defaultdict(float)
            for i in np.flatnonzero(np.abs(y) > 1e-9):
                for m, c in zip(eqs.members[rows[i]], eqs.coefs[rows[i]], strict=True):
                    if known[m]:
                        weight[m] += c * y[i]
            return {m for m, v in weight.items() if abs(v) > 1e-9}
    return None


def propagate_floors(floors: np.ndarray, eqs: Equations) -> np.ndarray:
    """Floors raised through the sums: a total holds at least its parts' floors (a year with
    seven months present has a denominator of at least 7), up the nesting of months,
    quarters, years and the whole span. Without this, a withheld year whose months are all 1
    slips past `pinned_by_floors` when only a difference of totals pins it."""
    flat, eq_of, starts = eqs.arrays()
    sums = np.flatnonzero(np.asarray(eqs.is_sum, dtype=bool))
    if not len(sums):
        return floors
    is_part = np.ones(len(flat), dtype=bool)
    is_part[starts[:-1]] = False
    totals = flat[starts[:-1]][sums]
    out = floors.astype(np.int64).copy()
    for _ in range(16):  # the nesting is a few levels deep
        parts = np.bincount(eq_of[is_part], weights=out[flat[is_part]], minlength=len(starts) - 1)[sums]
        new = out.copy()
        np.maximum.at(new, totals, parts.astype(np.int64))
        if np.array_equal(new, out):
            break
        out = new
    return out


def _with_floors(known: np.ndarray, values, floors, eqs: Equations) -> tuple:
    """`known` and the parts pinned by their floors, repeated while a pinned total pins its
    own parts: (known with them, {pinned quantity: the equation that pinned it}, known
    before)."""
    before = known.copy()
    known = known.copy()
    pinned_by: dict[int, int] = {}
    while True:
        new = {x: e for e in pinned_by_floors(values, floors, eqs, known) for x in eqs.members[e][1:] if not known[x]}
        if not new:
            return known, pinned_by, before
        for x, e in new.items():
            pinned_by.setdefault(x, e)
        known[list(new)] = True


def _explain(x: int, pinned_by: dict[int, int], eqs: Equations, before: np.ndarray) -> set[int]:
    """The quantities, known before any floor pinned something, that pinned `x` (through
    the chain of pinned totals)."""
    out: set[int] = set()
    seen: set[int] = set()
    stack = [x]
    while stack:
        y = stack.pop()
        e = pinned_by.get(y)
        if e is None:
            if before[y]:
                out.add(y)
            continue
        if e not in seen:
            seen.add(e)
            stack.extend(z for z in eqs.members[e] if z != y)
    return out


def released_bounds(values: np.ndarray, shown: np.ndarray, floors: np.ndarray, rounding: int, threshold: int):
    """What an attacker knows of each quantity before combining anything: the interval of
    true counts a released numerator or denominator stands for (nearest multiple of
    `rounding`, halves up, never rounded into 1..threshold: disclosure.round_counts; 0 is
    exact), a released complement only as den - num, a withheld quantity from its floor up."""
    from pipeline.audit.disclosure import round_counts, rounding_interval

    lo = floors.astype(np.float64).copy()
    hi = np.full(len(values), np.inf)
    rel = shown.copy()
    rel[COMP::3] = False
    r_lo, r_hi = rounding_interval(round_counts(values[rel], rounding, threshold), rounding, threshold)
    lo[rel], hi[rel] = np.maximum(r_lo, lo[rel]), r_hi
    return lo, hi


def propagate_bounds(lo: np.ndarray, hi: np.ndarray, eqs: Equations, max_rounds: int = 200) -> tuple:
    """Bounds propagation over the equations (what an attacker with rounded counts learns
    without a solver): for sum(c x) = 0, each member lies within minus the range of the other
    terms; integer bounds; repeated until nothing narrows. Returns (lo, hi, the equation
    that last raised each lower bound, the one that last lowered each upper bound; -1
    none)."""
    flat, eq_of, starts = eqs.arrays()
    coef = eqs.coef_array()
    n_eq = len(starts) - 1
    lo, hi = lo.astype(np.float64).copy(), hi.astype(np.float64).copy()
    lo_by = np.full(len(lo), -1, dtype=np.int64)
    hi_by = np.full(len(lo), -1, dtype=np.int64)
    if not len(flat):
        return lo, hi, lo_by, hi_by
    pos = coef > 0
    for _ in range(max_rounds):
        with np.errstate(invalid="ignore"):
            tmin = np.where(pos, coef * lo[flat], coef * hi[flat])
            tmax = np.where(pos, coef * hi[flat], coef * lo[flat])
        inf_min, inf_max = ~np.isfinite(tmin), ~np.isfinite(tmax)
        fmin, fmax = np.where(inf_min, 0.0, tmin), np.where(inf_max, 0.0, tmax)
        smin = np.bincount(eq_of, weights=fmin, minlength=n_eq)[eq_of] - fmin
        smax = np.bincount(eq_of, weights=fmax, minlength=n_eq)[eq_of] - fmax
        nmin = np.bincount(eq_of, weights=inf_min, minlength=n_eq)[eq_of] - inf_min
        nmax = np.bincount(eq_of, weights=inf_max, minlength=n_eq)[eq_of] - inf_max
        others_min = np.where(nmin == 0, smin, -np.inf)
        others_max = np.where(nmax == 0, smax, np.inf)
        # c x = -(the other terms): c x within [-others_max, -others_min]
        a, b = -others_max / coef, -others_min / coef
        new_lo = np.ceil(np.where(pos, a, b) - 1e-9)
        new_hi = np.floor(np.where(pos, b, a) + 1e-9)
        up = new_lo > lo[flat] + 0.5
        down = new_hi < hi[flat] - 0.5
        if not up.any() and not down.any():
            break
        for mask, bound, by, better in ((up, lo, lo_by, np.maximum), (down, hi, hi_by, np.minimum)):
            k = np.flatnonzero(mask)
            values = new_lo[k] if bound is lo else new_hi[k]
            best = bound.copy()
            better.at(best, flat[k], values)
            changed = best != bound
            winners = k[best[flat[k]] == values]
            by[flat[winners]] = eq_of[winners]
            bound[changed] = best[changed]
    return lo, hi, lo_by, hi_by


def _bound_sources(x: int, eqs: Equations, lo_by, hi_by, shown: np.ndarray) -> set[int]:
    """The released cells whose rounded values pinned quantity `x` (through the chain of
    equations that narrowed its bounds)."""
    return _sources(x, eqs, shown, lambda y: {int(lo_by[y]), int(hi_by[y])} - {-1}, through_released=True)


def _breaks(cell: int, x: int, out: np.ndarray, values, floors, eqs: Equations) -> bool:
    """Whether withholding `cell` as well leaves quantity `x` without a short combination."""
    trial = out.copy()
    trial[cell] = True
    known, _ = attack(len(values), eqs, np.repeat(~trial, 3))
    known = _with_floors(known, values, floors, eqs)[0]
    return not known[x] and local_combination(eqs, known, x) is None


def protect(
    num, den, withheld, primary, eqs: Equations, threshold: int, can_withhold=None, present=None, rounding: int = 0
) -> np.ndarray:
    """The withheld mask grown until the substitution attack exposes no primary cell, nor a
    combination of equations over exactly released values (with `rounding`, only a released
    0 is exact: a combination of rounded counts gives an interval, not a count).
    `can_withhold` limits which cells may be added (default: any); an exposure that only
    cells outside it explain is left as it is (the report cannot take back an aud_* cell:
    the audit protects the periods it knows, see docs/measures.md). `present` marks cells
    whose denominator is known to be at least 1 (a row in a table; default: all)."""
    # One BLAS thread: the vectors here are a few thousand long, and OpenBLAS threads waiting
    # for a core on a busy machine made this step ten times slower (1.2 s against 12 s at
    # 200,000 patients, docs/performance.md).
    with threadpool_limits(limits=1, user_api="blas"):
        return _protect(num, den, withheld, primary, eqs, threshold, can_withhold, present, rounding)


def _protect(num, den, withheld, primary, eqs: Equations, threshold: int, can_withhold, present, rounding: int):
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    out = np.array(withheld, dtype=bool)
    primary = np.asarray(primary, dtype=bool)
    allowed = np.ones(len(out), dtype=bool) if can_withhold is None else np.asarray(can_withhold, dtype=bool)
    n_q = 3 * len(out)
    values = np.stack([num, den, den - num], axis=1).reshape(-1)
    floors = np.zeros(n_q, dtype=np.int64)
    floors[DEN::3] = 1 if present is None else np.asarray(present, dtype=np.int64)
    floors = propagate_floors(floors, eqs)
    rounds: dict[int, int] = {}  # how often a combination exposed each quantity
    while True:
        shown = np.repeat(~out, 3)
        if rounding > 0:  # a released count is an interval: what bounds propagation pins
            lo, hi, lo_by, hi_by = propagate_bounds(*released_bounds(values, shown, floors, rounding, threshold), eqs)
            known = lo == hi
            pinned_by: dict[int, int] = {}
            before = known
        else:
            known, derived = attack(n_q, eqs, shown)
            known, pinned_by, before = _with_floors(known, values, floors, eqs)
        found = exposed(num, den, out, primary, known, threshold)
        combined: dict[int, set[int]] = {}
        if not found:  # what a combination of equations gives away
            small = exposed(num, den, out, primary, np.ones_like(known), threshold)
            targets = [q(c, p) for c, _ in small for p in (NUM, DEN, COMP) if 1 <= values[q(c, p)] <= threshold]
            if rounding > 0:  # only a released 0 is exact
                known, pinned_by, before = _with_floors(shown & (values == 0), values, floors, eqs)
            combined = determined(eqs, known, targets)
            found = [(x // 3, x) for x in combined]
        if not found:
            return out
        picks = set()
        for _cell, x in found:
            if x in combined:  # the quantities that made it known
                members = {y for m in combined[x] for y in _explain(m, pinned_by, eqs, before)}
                if rounding > 0:
                    feeding = {m // 3 for m in members if shown[m]}
                else:
                    feeding = set().union(*(_released_sources(m, eqs, derived, shown) for m in members if known[m]))
            elif rounding > 0:
                feeding = _bound_sources(x, eqs, lo_by, hi_by, shown)
            elif x in pinned_by:
                members = {y for m in _explain(x, pinned_by, eqs, before) for y in _explain(m, pinned_by, eqs, before)}
                feeding = set().union(*(_released_sources(m, eqs, derived, shown) for m in members if known[m]))
            else:
                feeding = _released_sources(x, eqs, derived, shown)
            candidates = sorted((c for c in feeding if allowed[c] and not out[c]), key=lambda c: (den[c], num[c], c))
            if x in combined:
                rounds[x] = rounds.get(x, 0) + 1
                if rounds[x] > 2:  # a combination with many paths: withhold all its cells
                    picks.update(candidates)
                elif len(candidates) > 1:  # the first one whose withholding breaks the combination
                    candidates = [c for c in candidates[:6] if _breaks(c, x, out, values, floors, eqs)] or candidates
            if candidates:
                picks.add(candidates[0])
        if not picks:
            return out
        out[sorted(picks)] = True


# The identities between measures at one cell key (docs/measures.md), as (measure, category,
# quantity) terms that an attacker can combine: each list's members are tied by one equation.
def cross_measure(at: dict[tuple[str, str], int], categories: Sequence[str]) -> list[list[int | None]]:
    """Equations between the measures' cells at one cell key; `at` maps (measure_id, category)
    to the cell index (absent: the measure has no episode there, a known 0)."""

    def Q(measure: str, part: int, category: str = "all") -> int | None:
        i = at.get((measure, category))
        return None if i is None else q(i, part)

    agents = ("iron_untested", "b12_untested", "folate_untested")
    out = [
        [Q("iron_untested", DEN), Q("iron_monitored", DEN)],  # both: iron episodes
        [Q("tested_after_only", DEN), *(Q(a, DEN) for a in agents)],  # all episodes
        [Q("just_in_case", DEN), Q("b12_untested", DEN), Q("folate_untested", DEN)],  # B12 + folate episodes
        # tested before the start = episodes - untested (testing_status has three values)
        [Q("treated_despite_normal", DEN), *(Q(a, COMP) for a in agents)],
    ]
    out += [[Q("iron_failed", NUM), Q("failure_causes", DEN, c)] for c in categories]  # failed episodes
    return out


def aud_equations(cells: pd.DataFrame, categories: Sequence[str]) -> Equations:
    """Every identity between the aud_* cells in `cells` (positional rows 0..n-1 of the
    system; CELL_KEYS columns), except den = num + comp (`Equations.cells`)."""
    from pipeline.audit.disclosure import table_constraints

    eqs = Equations()
    t = cells.reset_index(drop=True)
    for _, idx in t.groupby("measure_id", sort=True).indices.items():
        for total, parts in table_constraints(t.iloc[idx]):
            eqs.sums(int(idx[total]), [int(idx[p]) for p in parts])
    keys = list(zip(*(t[k] for k in KEY), strict=True))
    at: dict[tuple, dict[tuple[str, str], int]] = defaultdict(dict)
    for i, (k, m, c) in enumerate(zip(keys, t.measure_id, t.category, strict=True)):
        at[k][(m, c)] = i
    for cell_at in at.values():
        for members in cross_measure(cell_at, categories):
            eqs.add(members)
    return eqs
