/* khomc.engines._bfsloop's symmetry canon: KeyCanon.__call__'s common case, compiled.
 *
 * Owns the canonical key of an interned key (value ids, task locals) when the units of
 * symmetry have no own slots, the units' abstract local states are already known, and the
 * permutations of the arrangements tried and every relabelled id are already memoized:
 * the statements of model/engines/symmetry.py's KeyCanon.__call__, _arranged and
 * _tie_groups on that path, in the same order, reading the same tables
 * (KeyCanon.compiled_view) - the arrangements of tied units in itertools.product /
 * permutations order, the first of the lowest hash kept.  New values are classified by
 * calling KeyCanon._classify, as __call__ does.  Everything else - a memo miss, an unseen
 * local id, units with own slots, more than 5,040 arrangements - calls KeyCanon itself,
 * which fills the tables the next call reads.  properties/engine/test_symmetry_fast.py
 * compares the two.
 */
#include "_keycanon.h"

#define UNITS_MAX 16

/* the tuple of t's items at the indices idx (a tuple of ints); NULL on an error */
static PyObject *
pick(PyObject *t, PyObject *idx)
{
    Py_ssize_t n = PyTuple_GET_SIZE(idx), len = PyTuple_GET_SIZE(t);
    PyObject *out = PyTuple_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyTuple_GET_ITEM(idx, k));
        if (i == -1 && PyErr_Occurred()) {
            Py_DECREF(out);
            return NULL;
        }
        if (i < 0 || i >= len) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_IndexError, "a canon index is out of range");
            return NULL;
        }
        PyObject *v = PyTuple_GET_ITEM(t, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(out, k, v);
    }
    return out;
}

typedef struct {
    PyObject *wk, *locs, *perms, *memo, *raw, *fixed;
    PyObject *heads[UNITS_MAX];
    Py_ssize_t nu, nmov, mj[64], ms[64];
} Canon;

/* _arranged: the key of the arrangement that puts unit arranged[k] in position k.  1 and
   the key in *out, 0 on a memo miss (KeyCanon fills it), -1 on an error. */
static int
arranged_key(Canon *c, const Py_ssize_t *order, PyObject **out)
{
    Py_ssize_t nu = c->nu;
    PyObject *arranged = PyTuple_New(nu), *own = PyTuple_New(nu), *other = NULL, *mk = NULL;
    int r = -1;
    if (arranged == NULL || own == NULL)
        goto done;
    for (Py_ssize_t k = 0; k < nu; k++) {
        PyObject *x = PyLong_FromSsize_t(order[k]);
        if (x == NULL)
            goto done;
        PyTuple_SET_ITEM(arranged, k, x);
        Py_INCREF(c->heads[order[k]]);
        PyTuple_SET_ITEM(own, k, c->heads[order[k]]);
    }
    PyObject *perm = PyDict_GetItemWithError(c->perms, arranged);     /* (perm, pkey) */
    if (perm == NULL || !PyTuple_Check(perm) || PyTuple_GET_SIZE(perm) != 2) {
        r = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    PyObject *pkey = PyTuple_GET_ITEM(perm, 1);
    int some = PyObject_IsTrue(pkey);
    if (some < 0)
        goto done;
    if (!some || c->nmov == 0) {
        other = c->raw;
        Py_INCREF(other);
    } else {
        /* other[j] = vid(s, raw[j], pkey, perm) for the moving slots, from the memo */
        Py_ssize_t n = PyTuple_GET_SIZE(c->raw);
        if ((other = PyTuple_New(n)) == NULL)
            goto done;
        for (Py_ssize_t j = 0; j < n; j++) {
            PyObject *v = PyTuple_GET_ITEM(c->raw, j);
            Py_INCREF(v);
            PyTuple_SET_ITEM(other, j, v);
        }
        for (Py_ssize_t k = 0; k < c->nmov; k++) {
            PyObject *md = PyList_GET_ITEM(c->memo, c->ms[k]);
            if (!PyDict_Check(md)) {
                r = 0;
                goto done;
            }
            mk = PyTuple_Pack(2, PyTuple_GET_ITEM(c->raw, c->mj[k]), pkey);
            if (mk == NULL)
                goto done;
            PyObject *got = PyDict_GetItemWithError(md, mk);
            Py_CLEAR(mk);
            if (got == NULL) {
                r = PyErr_Occurred() ? -1 : 0;
                goto done;
            }
            Py_INCREF(got);
            PyObject *old = PyTuple_GET_ITEM(other, c->mj[k]);
            PyTuple_SET_ITEM(other, c->mj[k], got);    /* other is ours alone */
            Py_DECREF(old);
        }
    }
    *out = PyTuple_Pack(3, other, c->fixed, own);
    r = *out == NULL ? -1 : 1;
done:
    Py_XDECREF(arranged);
    Py_XDECREF(own);
    Py_XDECREF(other);
    Py_XDECREF(mk);
    return r;
}

/* next permutation of p[0..k) in lexicographic order (itertools.permutations' order);
   0 when p was the last one (p is then the first again) */
static int
next_perm(Py_ssize_t *p, Py_ssize_t k)
{
    Py_ssize_t i = k - 2;
    while (i >= 0 && p[i] > p[i + 1])
        i--;
    if (i < 0) {
        for (Py_ssize_t a = 0, b = k - 1; a < b; a++, b--) {
            Py_ssize_t t = p[a]; p[a] = p[b]; p[b] = t;
        }
        return 0;
    }
    Py_ssize_t j = k - 1;
    while (p[j] < p[i])
        j--;
    Py_ssize_t t = p[i]; p[i] = p[j]; p[j] = t;
    for (Py_ssize_t a = i + 1, b = k - 1; a < b; a++, b--) {
        t = p[a]; p[a] = p[b]; p[b] = t;
    }
    return 1;
}

/* The tie path: every arrangement of product(*(permutations(g) for g in groups)), in that
   order, groups the runs of equal heads in order[]; the key hashing lowest, the first of
   equal hashes.  1/0/-1 as arranged_key. */
static int
best_of_ties(Canon *c, const Py_ssize_t *order, PyObject **out)
{
    Py_ssize_t nu = c->nu, gstart[UNITS_MAX + 1], ng = 0, pos[UNITS_MAX], arr[UNITS_MAX];
    long long total = 1;
    for (Py_ssize_t i = 0; i < nu; i++) {
        int eq = 0;
        if (i > 0) {
            eq = PyObject_RichCompareBool(c->heads[order[i - 1]], c->heads[order[i]], Py_EQ);
            if (eq < 0)
                return -1;
        }
        if (!eq)
            gstart[ng++] = i;
        pos[i] = i;                 /* the first permutation of each group */
        total *= (i - gstart[ng - 1] + 1);
        if (total > 5040)
            return 0;               /* that many arrangements: KeyCanon */
    }
    gstart[ng] = nu;
    PyObject *best = NULL;
    Py_hash_t best_h = 0;
    for (;;) {
        for (Py_ssize_t i = 0; i < nu; i++)
            arr[i] = order[pos[i]];
        PyObject *k = NULL;
        int r = arranged_key(c, arr, &k);
        if (r <= 0) {
            Py_XDECREF(best);
            return r;
        }
        Py_hash_t h = PyObject_Hash(k);
        if (h == -1 && PyErr_Occurred()) {
            Py_DECREF(k);
            Py_XDECREF(best);
            return -1;
        }
        if (best == NULL || h < best_h) {
            Py_XDECREF(best);
            best = k;
            best_h = h;
        } else {
            Py_DECREF(k);
        }
        /* the odometer: the last group moves fastest */
        Py_ssize_t g = ng - 1;
        while (g >= 0 && !next_perm(pos + gstart[g], gstart[g + 1] - gstart[g]))
            g--;
        if (g < 0)
            break;
    }
    *out = best;
    return 1;
}

/* 1 and the canonical key in *out, 0 when the compiled path does not apply, -1 error */
static int
canon_fast(PyObject *canon, PyObject *view, PyObject *key, PyObject **out)
{
    PyObject *abs_of, *tids, *oloc, *ntasks_o, *oslot, *live, *live_slots, *perms, *memo,
             *fresh;
    if (!PyArg_UnpackTuple(view, "compiled_view", 10, 10, &abs_of, &tids, &oloc, &ntasks_o,
                           &oslot, &live, &live_slots, &perms, &memo, &fresh))
        return -1;
    if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 2)
        return 0;
    Canon c;
    c.wk = PyTuple_GET_ITEM(key, 0);
    c.locs = PyTuple_GET_ITEM(key, 1);
    c.perms = perms;
    c.memo = memo;
    c.nu = PyTuple_GET_SIZE(tids);
    if (!PyTuple_Check(c.wk) || !PyTuple_Check(c.locs) || c.nu > UNITS_MAX || c.nu < 1
            || !PyList_Check(fresh))
        return 0;
    /* heads = [abs_of.get(locs[t]) for t in unit_tids] */
    for (Py_ssize_t i = 0; i < c.nu; i++) {
        Py_ssize_t t = PyLong_AsSsize_t(PyTuple_GET_ITEM(tids, i));
        if (t == -1 && PyErr_Occurred())
            return -1;
        if (t < 0 || t >= PyTuple_GET_SIZE(c.locs))
            return 0;
        c.heads[i] = PyDict_GetItemWithError(abs_of, PyTuple_GET_ITEM(c.locs, t));
        if (c.heads[i] == NULL)
            return PyErr_Occurred() ? -1 : 0;
    }
    if (PyList_GET_SIZE(fresh)) {   /* if self.st.fresh: self._classify() */
        PyObject *r = PyObject_CallMethod(canon, "_classify", NULL);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    /* moving = [(j, s) for j, s in live_slots if live[s][raw[j]]] */
    c.nmov = 0;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(live_slots); k++) {
        PyObject *js = PyList_GET_ITEM(live_slots, k);
        if (!PyTuple_Check(js) || PyTuple_GET_SIZE(js) != 2 || c.nmov == 64)
            return 0;
        Py_ssize_t j = PyLong_AsSsize_t(PyTuple_GET_ITEM(js, 0));
        Py_ssize_t s = PyLong_AsSsize_t(PyTuple_GET_ITEM(js, 1));
        if ((j == -1 || s == -1) && PyErr_Occurred())
            return -1;
        if (j < 0 || j >= PyTuple_GET_SIZE(oslot) || s < 0 || s >= PyList_GET_SIZE(live)
                || s >= PyList_GET_SIZE(memo))
            return 0;
        Py_ssize_t slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(oslot, j));
        if (slot == -1 && PyErr_Occurred())
            return -1;
        if (slot < 0 || slot >= PyTuple_GET_SIZE(c.wk))
            return 0;
        Py_ssize_t v = PyLong_AsSsize_t(PyTuple_GET_ITEM(c.wk, slot));   /* raw[j] */
        if (v == -1 && PyErr_Occurred())
            return -1;
        PyObject *flags = PyList_GET_ITEM(live, s);
        if (!PyList_Check(flags) || v < 0 || v >= PyList_GET_SIZE(flags))
            return 0;
        int on = PyObject_IsTrue(PyList_GET_ITEM(flags, v));
        if (on < 0)
            return -1;
        if (on) {
            c.mj[c.nmov] = j;
            c.ms[c.nmov++] = s;
        }
    }
    /* order = sorted(range(n), key=sigs.__getitem__), stable; do the units tie? */
    Py_ssize_t order[UNITS_MAX];
    int tie = 0;
    for (Py_ssize_t i = 0; i < c.nu; i++) {
        Py_ssize_t k = i;
        while (k > 0) {
            int lt = PyObject_RichCompareBool(c.heads[i], c.heads[order[k - 1]], Py_LT);
            if (lt < 0)
                return -1;
            if (!lt)
                break;
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    for (Py_ssize_t i = 1; i < c.nu && !tie; i++) {
        tie = PyObject_RichCompareBool(c.heads[order[i - 1]], c.heads[order[i]], Py_EQ);
        if (tie < 0)
            return -1;
    }
    Py_ssize_t ntasks = PyLong_AsSsize_t(ntasks_o);
    if (ntasks == -1 && PyErr_Occurred())
        return -1;
    PyObject *ol = NULL, *rest = NULL;
    int r = -1;
    c.raw = c.fixed = NULL;
    if ((c.raw = pick(c.wk, oslot)) == NULL || (ol = pick(c.locs, oloc)) == NULL
            || (rest = PyTuple_GetSlice(c.locs, ntasks, PyTuple_GET_SIZE(c.locs))) == NULL
            || (c.fixed = PyTuple_Pack(2, ol, rest)) == NULL)
        goto done;
    /* no ties, or ties that no world slot tells apart: one arrangement is enough */
    r = tie && c.nmov ? best_of_ties(&c, order, out) : arranged_key(&c, order, out);
done:
    Py_XDECREF(c.raw);
    Py_XDECREF(c.fixed);
    Py_XDECREF(ol);
    Py_XDECREF(rest);
    return r;
}

PyObject *
keycanon_fast(PyObject *canon, PyObject *view, PyObject *key)
{
    PyObject *out = NULL;
    int r = canon_fast(canon, view, key, &out);
    if (r < 0)
        return NULL;
    return r > 0 ? out : Py_NewRef(Py_None);
}

PyObject *
keycanon_call(PyObject *canon, PyObject *view, PyObject *key)
{
    if (view != NULL && view != Py_None) {
        PyObject *out = NULL;
        int r = canon_fast(canon, view, key, &out);
        if (r < 0)
            return NULL;
        if (r > 0)
            return out;
    }
    return PyObject_CallOneArg(canon, key);
}
