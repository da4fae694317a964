/* khomc.engines._bfsloop.Visited - the visited table of the compiled fast BFS.
 *
 * Owns: the map from a state's interned key, (value ids, task locals), to its state id,
 * as an open-addressing table whose entries keep each key's 64-bit hash.  The hash of a
 * key made of ints is the XOR of one mixed word per position (Zobrist's scheme), so the
 * compiled loop (_bfsloop.c, one_outcome) computes a successor's hash from its source's by
 * the few ids the step writes, and finds an already visited successor - most of them - by
 * comparing the stored key with the source's ids and the step's writes in place, without
 * building the successor's key tuples at all.  A state's key is still compared in full on
 * a hash match: this is an exact table, not fingerprints (--compact is those).
 *
 * To Python it is a mapping with what Search and its helpers use of a dict: get,
 * setdefault, [], [] =, in, len, keys/values/items, iteration.  Equal keys are found as a
 * dict finds them, with one restriction that interned keys satisfy: a key whose parts are
 * all ints never equals a key with a non-int part (1.0 for 1).  No deletion.
 */
#include "_visited.h"

#define VISITED_MIN 64

int
visited_int(PyObject *o, uint64_t *v)
{
    if (!PyLong_Check(o))
        return 0;
    int of;
    long long x = PyLong_AsLongLongAndOverflow(o, &of);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (of)
        return 0;
    *v = (uint64_t)x;
    return 1;
}

int
visited_hash_parts(PyObject *wk, PyObject *locs, uint64_t *h)
{
    uint64_t acc = 0, x;
    Py_ssize_t n = PyTuple_GET_SIZE(wk), m = PyTuple_GET_SIZE(locs);
    for (Py_ssize_t j = 0; j < n; j++) {
        int t = visited_int(PyTuple_GET_ITEM(wk, j), &x);
        if (t <= 0)
            return t;
        acc ^= visited_mix((uint64_t)j, x);
    }
    for (Py_ssize_t j = 0; j < m; j++) {
        int t = visited_int(PyTuple_GET_ITEM(locs, j), &x);
        if (t <= 0)
            return t;
        acc ^= visited_mix(VISITED_LOCS + (uint64_t)j, x);
    }
    *h = acc;
    return 1;
}

int
visited_hash(PyObject *key, uint64_t *h)
{
    if (PyTuple_Check(key) && PyTuple_GET_SIZE(key) == 2
            && PyTuple_Check(PyTuple_GET_ITEM(key, 0))
            && PyTuple_Check(PyTuple_GET_ITEM(key, 1))) {
        int t = visited_hash_parts(PyTuple_GET_ITEM(key, 0), PyTuple_GET_ITEM(key, 1), h);
        if (t != 0)
            return t < 0 ? -1 : 0;
    }
    Py_hash_t ph = PyObject_Hash(key);
    if (ph == -1 && PyErr_Occurred())
        return -1;
    *h = visited_mix(VISITED_LOCS - 1, (uint64_t)ph);
    return 0;
}

/* the entry of key, or the empty entry where it would go; NULL on an error */
static VisitedEntry *
find(VisitedObject *v, PyObject *key, uint64_t h)
{
again:;
    VisitedEntry *tab = v->tab;
    Py_ssize_t i = (Py_ssize_t)(h & (uint64_t)v->mask);
    for (;;) {
        VisitedEntry *e = &tab[i];
        if (e->key == NULL || e->key == key)
            return e;
        if (e->h == h) {
            PyObject *k = e->key;
            Py_INCREF(k);
            int eq = PyObject_RichCompareBool(k, key, Py_EQ);
            Py_DECREF(k);
            if (eq < 0)
                return NULL;
            if (v->tab != tab)          /* the comparison changed the table */
                goto again;
            if (eq)
                return e;
        }
        i = (i + 1) & v->mask;
    }
}

static int
grow(VisitedObject *v)
{
    Py_ssize_t cap = (v->mask + 1) * 2;
    VisitedEntry *tab = PyMem_Calloc((size_t)cap, sizeof(VisitedEntry));
    if (tab == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i <= v->mask; i++) {
        VisitedEntry *e = &v->tab[i];
        if (e->key == NULL)
            continue;
        Py_ssize_t j = (Py_ssize_t)(e->h & (uint64_t)(cap - 1));
        while (tab[j].key != NULL)
            j = (j + 1) & (cap - 1);
        tab[j] = *e;
    }
    PyMem_Free(v->tab);
    v->tab = tab;
    v->mask = cap - 1;
    return 0;
}

static int
room(VisitedObject *v)
{
    return (v->used + 1) * 3 > (v->mask + 1) * 2 ? grow(v) : 0;
}

PyObject *
visited_get_h(VisitedObject *v, PyObject *key, uint64_t h)
{
    VisitedEntry *e = find(v, key, h);
    return e == NULL || e->key == NULL ? NULL : e->val;
}

PyObject *
visited_get(VisitedObject *v, PyObject *key)
{
    uint64_t h;
    if (visited_hash(key, &h) < 0)
        return NULL;
    return visited_get_h(v, key, h);
}

PyObject *
visited_setdefault_h(VisitedObject *v, PyObject *key, PyObject *val, uint64_t h)
{
    if (room(v) < 0)
        return NULL;
    VisitedEntry *e = find(v, key, h);
    if (e == NULL)
        return NULL;
    if (e->key == NULL) {
        Py_INCREF(key);
        Py_INCREF(val);
        e->h = h;
        e->key = key;
        e->val = val;
        v->used++;
    }
    return e->val;
}

PyObject *
visited_setdefault(VisitedObject *v, PyObject *key, PyObject *val)
{
    uint64_t h;
    if (visited_hash(key, &h) < 0)
        return NULL;
    return visited_setdefault_h(v, key, val, h);
}

int
visited_set(VisitedObject *v, PyObject *key, PyObject *val)
{
    uint64_t h;
    if (visited_hash(key, &h) < 0 || room(v) < 0)
        return -1;
    VisitedEntry *e = find(v, key, h);
    if (e == NULL)
        return -1;
    Py_INCREF(val);
    if (e->key == NULL) {
        Py_INCREF(key);
        e->h = h;
        e->key = key;
        e->val = val;
        v->used++;
    } else {
        PyObject *old = e->val;
        e->val = val;
        Py_DECREF(old);
    }
    return 0;
}

/* is the stored key k the key (exp[0..n), locs with locs[tid] = lid2)?  -1 on an error */
static int
step_key_is(PyObject *k, PyObject *const *exp, Py_ssize_t n, PyObject *locs, Py_ssize_t tid,
            PyObject *lid2)
{
    if (!PyTuple_Check(k) || PyTuple_GET_SIZE(k) != 2)
        return 0;
    PyObject *swk = PyTuple_GET_ITEM(k, 0), *slocs = PyTuple_GET_ITEM(k, 1);
    if (!PyTuple_Check(swk) || PyTuple_GET_SIZE(swk) != n || !PyTuple_Check(slocs)
            || PyTuple_GET_SIZE(slocs) != PyTuple_GET_SIZE(locs))
        return 0;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(locs); j++) {
        /* identical objects compare equal without a call (PyObject_RichCompareBool) */
        int t = PyObject_RichCompareBool(PyTuple_GET_ITEM(slocs, j),
                                         j == tid ? lid2 : PyTuple_GET_ITEM(locs, j), Py_EQ);
        if (t <= 0)
            return t;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        int t = PyObject_RichCompareBool(PyTuple_GET_ITEM(swk, j), exp[j], Py_EQ);
        if (t <= 0)
            return t;
    }
    return 1;
}

PyObject *
visited_get_step(VisitedObject *v, uint64_t h, PyObject *const *exp, Py_ssize_t n,
                 PyObject *locs, Py_ssize_t tid, PyObject *lid2)
{
    VisitedEntry *tab = v->tab;
    Py_ssize_t i = (Py_ssize_t)(h & (uint64_t)v->mask);
    for (;;) {
        VisitedEntry *e = &tab[i];
        if (e->key == NULL)
            return NULL;
        if (e->h == h) {
            /* the parts are ints: the comparisons run no Python code */
            int t = step_key_is(e->key, exp, n, locs, tid, lid2);
            if (t < 0)
                return NULL;
            if (t)
                return e->val;
        }
        i = (i + 1) & v->mask;
    }
}

/* -- the Python type ------------------------------------------------------------------- */

static PyObject *
Visited_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    VisitedObject *v = (VisitedObject *)type->tp_alloc(type, 0);
    if (v == NULL)
        return NULL;
    v->tab = PyMem_Calloc(VISITED_MIN, sizeof(VisitedEntry));
    if (v->tab == NULL) {
        Py_DECREF(v);
        return PyErr_NoMemory();
    }
    v->mask = VISITED_MIN - 1;
    return (PyObject *)v;
}

static int
Visited_init(VisitedObject *v, PyObject *args, PyObject *kwds)
{
    PyObject *from = NULL;
    if (!PyArg_ParseTuple(args, "|O:Visited", &from))
        return -1;
    if (from == NULL)
        return 0;
    PyObject *items = PyMapping_Items(from);
    if (items == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        if (visited_set(v, PyTuple_GET_ITEM(kv, 0), PyTuple_GET_ITEM(kv, 1)) < 0) {
            Py_DECREF(items);
            return -1;
        }
    }
    Py_DECREF(items);
    return 0;
}

static void
Visited_dealloc(VisitedObject *v)
{
    if (v->tab != NULL) {
        for (Py_ssize_t i = 0; i <= v->mask; i++) {
            Py_XDECREF(v->tab[i].key);
            Py_XDECREF(v->tab[i].val);
        }
        PyMem_Free(v->tab);
    }
    Py_TYPE(v)->tp_free((PyObject *)v);
}

static Py_ssize_t
Visited_len(VisitedObject *v)
{
    return v->used;
}

static PyObject *
Visited_subscript(VisitedObject *v, PyObject *key)
{
    PyObject *val = visited_get(v, key);
    if (val == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    Py_INCREF(val);
    return val;
}

static int
Visited_ass_subscript(VisitedObject *v, PyObject *key, PyObject *val)
{
    if (val == NULL) {
        PyErr_SetString(PyExc_TypeError, "the visited table has no deletion");
        return -1;
    }
    return visited_set(v, key, val);
}

static int
Visited_contains(VisitedObject *v, PyObject *key)
{
    PyObject *val = visited_get(v, key);
    return val != NULL ? 1 : (PyErr_Occurred() ? -1 : 0);
}

static PyObject *
Visited_get(VisitedObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get takes a key and an optional default");
        return NULL;
    }
    PyObject *val = visited_get(v, args[0]);
    if (val == NULL) {
        if (PyErr_Occurred())
            return NULL;
        val = nargs > 1 ? args[1] : Py_None;
    }
    Py_INCREF(val);
    return val;
}

static PyObject *
Visited_setdefault(VisitedObject *v, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "setdefault takes a key and an optional default");
        return NULL;
    }
    PyObject *val = visited_setdefault(v, args[0], nargs > 1 ? args[1] : Py_None);
    Py_XINCREF(val);
    return val;
}

/* what: 0 keys, 1 values, 2 (key, value) pairs; in table order */
static PyObject *
listed(VisitedObject *v, int what)
{
    PyObject *out = PyList_New(v->used);
    if (out == NULL)
        return NULL;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i <= v->mask && k < v->used; i++) {
        VisitedEntry *e = &v->tab[i];
        if (e->key == NULL)
            continue;
        PyObject *x = what == 0 ? e->key : what == 1 ? e->val : PyTuple_Pack(2, e->key, e->val);
        if (x == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        if (what < 2)
            Py_INCREF(x);
        PyList_SET_ITEM(out, k++, x);
    }
    return out;
}

static PyObject *
Visited_keys(VisitedObject *v, PyObject *unused)
{
    return listed(v, 0);
}

static PyObject *
Visited_values(VisitedObject *v, PyObject *unused)
{
    return listed(v, 1);
}

static PyObject *
Visited_items(VisitedObject *v, PyObject *unused)
{
    return listed(v, 2);
}

static PyObject *
Visited_iter(VisitedObject *v)
{
    PyObject *keys = listed(v, 0);
    if (keys == NULL)
        return NULL;
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyObject *
Visited_sizeof(VisitedObject *v, PyObject *unused)
{
    return PyLong_FromSsize_t((Py_ssize_t)sizeof(VisitedObject)
                              + (v->mask + 1) * (Py_ssize_t)sizeof(VisitedEntry));
}

static PyMethodDef Visited_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Visited_get, METH_FASTCALL,
     "get(key, default=None): the id of key's state, as dict.get."},
    {"setdefault", (PyCFunction)(void (*)(void))Visited_setdefault, METH_FASTCALL,
     "setdefault(key, default=None): as dict.setdefault."},
    {"keys", (PyCFunction)Visited_keys, METH_NOARGS, "The keys, as a list."},
    {"values", (PyCFunction)Visited_values, METH_NOARGS, "The ids, as a list."},
    {"items", (PyCFunction)Visited_items, METH_NOARGS, "The (key, id) pairs, as a list."},
    {"__sizeof__", (PyCFunction)Visited_sizeof, METH_NOARGS, "Bytes of the table."},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods Visited_as_mapping = {
    (lenfunc)Visited_len, (binaryfunc)Visited_subscript, (objobjargproc)Visited_ass_subscript,
};

static PySequenceMethods Visited_as_sequence = {
    .sq_contains = (objobjproc)Visited_contains,
};

PyTypeObject Visited_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "khomc.engines._bfsloop.Visited",
    .tp_basicsize = sizeof(VisitedObject),
    .tp_dealloc = (destructor)Visited_dealloc,
    .tp_as_sequence = &Visited_as_sequence,
    .tp_as_mapping = &Visited_as_mapping,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Visited([mapping]): the fast BFS's visited table, key -> state id "
              "(see model/engines/_visited.c).",
    .tp_iter = (getiterfunc)Visited_iter,
    .tp_methods = Visited_methods,
    .tp_init = (initproc)Visited_init,
    .tp_new = Visited_new,
};
