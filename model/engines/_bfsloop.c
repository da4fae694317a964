/* khomc.engines._bfsloop - the inner loop of Search._bfs_fast, compiled.
 *
 * Owns: expanding up to a batch of frontier entries of the fast breadth-first search
 * (model/engines/search.py, Search._bfs_fast) - the same statements in the same order,
 * with the interpreter's dispatch taken out (a task's plan, Stepper._plan, and the atomic
 * sections, Stepper.fast_chain, included).  Every decision that is not a table lookup
 * stays in Python and is called back: a memo node (Stepper._memo_node), an effect-memo miss
 * (Stepper.fast_outcomes), steps that spawn (generic) or leave the memo inside an atomic
 * section (Stepper.fast_chain_generic), a property-memo miss (Monitor._fallback), a memory
 * never seen before after part writes (Stepper.split_step), the symmetry canon's uncommon
 * cases (KeyCanon; the common case is _keycanon.c's), deadlock reports, and the checks of a
 * state where every task has finished (the final properties: Monitor.after_step).  The
 * incremental property checks themselves (Monitor.after_step) run here (check_new), and so
 * do heap effects' memo keys (step.PartsKey: memo_key).  The visited table is
 * _visited.c's (Search._bfs_compiled hands it over): a successor's hash comes from its
 * source's and the ids the step writes, and a visited successor is found without building
 * its key (step_probe); a dict (a resumed checkpoint) works too.  The discovery tree's and
 * the graph's integer arrays are appended to through C buffers (Buf), handed over once per
 * batch and before every callback into the search's Python.
 *
 * It is an accelerator, not a second semantics: search.py's Python loop is the reference
 * and properties/engine/test_bfsloop.py checks the two give the same states, ids,
 * discovery tree, transitions and verdicts.  KHOMC_PURE_PYTHON=1 (or a build without a
 * compiler) runs the Python loop.  Model code never sees this module.
 *
 * Returns (code, expanded, transitions): code 0 the frontier is empty, 1 the batch is
 * done, 2 the graph passed its limit (the caller drops it), 3 max_states was reached with
 * a frontier left, 4 a violation was found while stopping at the first.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_visited.h"
#include "_keycanon.h"

/* An array.array the loop appends to (the discovery tree's parent, via_tid and depth, the
   recorded graph's edges): the items gather here and go over with one frombytes before any
   callback that may read the arrays and at the end of the batch, instead of one append call
   (and its argument parsing) per item.  arr NULL: not an integer array of a known item
   size, so every item is appended through meth. */
typedef struct {
    PyObject *meth, *arr;
    Py_ssize_t itemsize;
    char *data;
    Py_ssize_t n, cap;          /* pending items */
} Buf;

typedef struct {
    PyObject *frontier, *popleft, *fappend;
    PyObject *plans, *outcomes_of, *vkey;
    PyObject *split_step;
    PyObject *mparts, *mintern;   /* Stepper._mparts, ._mintern (split_known); or NULL */
    Py_ssize_t m;                 /* the split slot's index, -1 if none */
    PyObject *ids, *canon;
    PyObject *canon_view;         /* KeyCanon.compiled_view (owned), or NULL */
    /* ids as the compiled table (_visited.c), else NULL (a dict); the hash of the key of
       the state being expanded, and whether it is the incremental one (all parts ints) */
    VisitedObject *vis;
    uint64_t src_h;
    int src_parts;
    PyObject *states_append, *parent, *parent_append, *via_tid_append, *depth_append;
    PyObject *via_choices, *depth;
    PyObject *esrc_append, *edst_append, *etid_append;
    PyObject *states_list;        /* the list states_append appends to, or NULL */
    Buf b_parent, b_via_tid, b_depth, b_esrc, b_edst, b_etid;
    int record;
    Py_ssize_t graph_limit, max_states;
    int stop_at_first;
    PyObject *violations;
    PyObject *done_ids;
    PyObject *gates, *on_new, *generic, *deadlock;
    /* the atomic sections (Stepper.fast_chain): the effect memo, its node maker, the
       sentinel of an effect the fast path hands to _run, that fallback, the full check */
    PyObject *memo, *memo_node, *unmemo, *chain_generic, *check_full;
    /* Stepper._plan: the sentinel of a finished task, the bound on cached plans */
    PyObject *finished;
    Py_ssize_t max_plans;
    /* the gates: (slot mask, task mask, everything) */
    PyObject *gw, *gl;
    long long gw_c, gl_c;
    int gw_small, gl_small, gall;
    /* Monitor.after_step, compiled: None (call on_new) or Monitor.compiled_checks()'s
       (view, always memos, sometimes memos, crashed ids, has final properties, absent,
       fallback, error hook, witness, number of sometimes properties) */
    PyObject *delta;
    PyObject *view, *always_m, *sometimes_m, *crashed_ids, *absent, *fallback, *raise_hook;
    PyObject *witness, *w_false, *w_true;
    int has_final;
    Py_ssize_t n_sometimes;
} Ctx;

/* the property memo's checks, defined with run_delta below */
static int delta_list(PyObject *props, PyObject *skip, PyObject *w, PyObject *mask,
                      PyObject *tido, PyObject *world, PyObject *locs, PyObject *absent,
                      PyObject *fallback, PyObject **where, PyObject *out);
static Py_ssize_t n_fallbacks;      /* memo misses and plain evaluations, ever */
static PyObject *s_world, *s_locs, *s_assertions;
static int some_task_left(Ctx *c, PyObject *locs);

static int
load_gates(Ctx *c, PyObject *g)
{
    if (!PyTuple_Check(g) || PyTuple_GET_SIZE(g) != 3) {
        PyErr_SetString(PyExc_TypeError, "gates must be a 3-tuple");
        return -1;
    }
    Py_XDECREF(c->gw);
    Py_XDECREF(c->gl);
    c->gw = PyTuple_GET_ITEM(g, 0);
    c->gl = PyTuple_GET_ITEM(g, 1);
    Py_INCREF(c->gw);
    Py_INCREF(c->gl);
    int of;
    c->gw_c = PyLong_AsLongLongAndOverflow(c->gw, &of);
    if (c->gw_c == -1 && PyErr_Occurred())
        return -1;
    c->gw_small = !of;
    c->gl_c = PyLong_AsLongLongAndOverflow(c->gl, &of);
    if (c->gl_c == -1 && PyErr_Occurred())
        return -1;
    c->gl_small = !of;
    c->gall = PyObject_IsTrue(PyTuple_GET_ITEM(g, 2));
    return c->gall < 0 ? -1 : 0;
}

static int
refresh_gates(Ctx *c)
{
    PyObject *g = PyObject_CallNoArgs(c->gates);
    if (g == NULL)
        return -1;
    int r = load_gates(c, g);
    Py_DECREF(g);
    return r;
}

/* gall or (mask & gw) or (gl >> tid) & 1 or lid2 in done_ids */
static int
must_check(Ctx *c, PyObject *mask, Py_ssize_t tid, PyObject *lid2)
{
    if (c->gall)
        return 1;
    int of;
    long long mk = PyLong_AsLongLongAndOverflow(mask, &of);
    if (mk == -1 && PyErr_Occurred())
        return -1;
    if (!of && c->gw_small) {
        if (mk & c->gw_c)
            return 1;
    } else {
        PyObject *a = PyNumber_And(mask, c->gw);
        if (a == NULL)
            return -1;
        int t = PyObject_IsTrue(a);
        Py_DECREF(a);
        if (t)
            return t;
    }
    if (c->gl_small && tid < 63) {
        if ((c->gl_c >> tid) & 1)
            return 1;
    } else if (c->gl_small) {
        if (c->gl_c < 0)        /* a negative mask is all ones above its width */
            return 1;
    } else {                    /* (gl >> tid) & 1 on a mask wider than 64 bits */
        PyObject *t = PyLong_FromSsize_t(tid), *s = NULL, *b = NULL, *one = PyLong_FromLong(1);
        int bit = -1;
        if (t != NULL && one != NULL && (s = PyNumber_Rshift(c->gl, t)) != NULL
                && (b = PyNumber_And(s, one)) != NULL)
            bit = PyObject_IsTrue(b);
        Py_XDECREF(t);
        Py_XDECREF(s);
        Py_XDECREF(b);
        Py_XDECREF(one);
        if (bit)
            return bit;
    }
    return PySet_Contains(c->done_ids, lid2);
}

static int
append1(PyObject *meth, PyObject *v)
{
    PyObject *r = PyObject_CallOneArg(meth, v);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* the array behind a bound append method, if it holds integers of 2, 4 or 8 bytes */
static void
buf_init(Buf *b, PyObject *meth)
{
    memset(b, 0, sizeof *b);
    b->meth = meth;
    if (meth == NULL || !PyCFunction_Check(meth)
            || strcmp(((PyCFunctionObject *)meth)->m_ml->ml_name, "append") != 0)
        return;
    PyObject *arr = PyCFunction_GET_SELF(meth);
    if (arr == NULL || strcmp(Py_TYPE(arr)->tp_name, "array.array") != 0)
        return;
    PyObject *code = PyObject_GetAttrString(arr, "typecode");
    PyObject *size = code != NULL ? PyObject_GetAttrString(arr, "itemsize") : NULL;
    if (code != NULL && size != NULL && PyUnicode_Check(code)
            && PyUnicode_GET_LENGTH(code) == 1) {
        Py_UCS4 tc = PyUnicode_READ_CHAR(code, 0);
        Py_ssize_t sz = PyLong_AsSsize_t(size);
        if ((tc == 'q' || tc == 'l' || tc == 'i' || tc == 'h')
                && (sz == 2 || sz == 4 || sz == 8)) {
            b->arr = arr;
            b->itemsize = sz;
        }
    }
    PyErr_Clear();
    Py_XDECREF(code);
    Py_XDECREF(size);
}

static int
buf_push(Buf *b, PyObject *v)
{
    if (b->arr == NULL)
        return append1(b->meth, v);
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (b->n == b->cap) {
        Py_ssize_t cap = b->cap ? 2 * b->cap : 1024;
        char *d = PyMem_Realloc(b->data, cap * b->itemsize);
        if (d == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = d;
        b->cap = cap;
    }
    char *at = b->data + b->n * b->itemsize;
    if (b->itemsize == 8) {
        int64_t y = x;
        memcpy(at, &y, 8);
    } else if (b->itemsize == 4) {
        if (x < INT32_MIN || x > INT32_MAX)
            goto range;
        int32_t y = (int32_t)x;
        memcpy(at, &y, 4);
    } else {
        if (x < INT16_MIN || x > INT16_MAX)
            goto range;
        int16_t y = (int16_t)x;
        memcpy(at, &y, 2);
    }
    b->n++;
    return 0;
range:
    PyErr_SetString(PyExc_OverflowError, "value out of range of the array's item type");
    return -1;
}

/* hand the pending items to the array */
static int
buf_flush(Buf *b)
{
    if (b->arr == NULL || b->n == 0)
        return 0;
    PyObject *mv = PyMemoryView_FromMemory(b->data, b->n * b->itemsize, PyBUF_READ);
    if (mv == NULL)
        return -1;
    PyObject *r = PyObject_CallMethod(b->arr, "frombytes", "O", mv);
    Py_DECREF(mv);
    b->n = 0;
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static void
buf_free(Buf *b)
{
    PyMem_Free(b->data);
    b->data = NULL;
    b->n = b->cap = 0;
}

/* item i of the array behind b, counting the pending ones (new reference) */
static PyObject *
buf_item(Buf *b, PyObject *arr, Py_ssize_t i)
{
    Py_ssize_t have = PyObject_Size(arr);
    if (have < 0)
        return NULL;
    if (b->arr == NULL || i < have)
        return PySequence_GetItem(arr, i);
    i -= have;
    if (i >= b->n) {
        PyErr_SetString(PyExc_IndexError, "array index out of range");
        return NULL;
    }
    char *at = b->data + i * b->itemsize;
    if (b->itemsize == 8) {
        int64_t y;
        memcpy(&y, at, 8);
        return PyLong_FromLongLong(y);
    }
    if (b->itemsize == 4) {
        int32_t y;
        memcpy(&y, at, 4);
        return PyLong_FromLong(y);
    }
    int16_t y;
    memcpy(&y, at, 2);
    return PyLong_FromLong(y);
}

/* every pending item to its array: before a callback into the search's Python, which may
   read the arrays or append to them itself, and at the end of a batch */
static int
flush_all(Ctx *c)
{
    int r = 0;
    Buf *bs[] = {&c->b_parent, &c->b_via_tid, &c->b_depth, &c->b_esrc, &c->b_edst,
                 &c->b_etid};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
        if (buf_flush(bs[i]) < 0)
            r = -1;
    return r;
}

static void
free_all(Ctx *c)
{
    Buf *bs[] = {&c->b_parent, &c->b_via_tid, &c->b_depth, &c->b_esrc, &c->b_edst,
                 &c->b_etid};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
        buf_free(bs[i]);
}

static int
push_state(Ctx *c, PyObject *k2)
{
    return c->states_list != NULL ? PyList_Append(c->states_list, k2)
                                  : push_state(c, k2);
}

/* a copy of tuple t with the (index, value) pairs of writes applied (new reference) */
static PyObject *
tuple_with(PyObject *t, PyObject *writes)
{
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    PyObject *out = PyTuple_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(t, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(out, i, v);
    }
    PyObject *seq = PySequence_Fast(writes, "writes must be a sequence");
    if (seq == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, j);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "a write must be a (slot, value) pair");
            goto fail;
        }
        Py_ssize_t s = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        if (s == -1 && PyErr_Occurred())
            goto fail;
        if (s < 0)
            s += n;
        if (s < 0 || s >= n) {
            PyErr_SetString(PyExc_IndexError, "write index out of range");
            goto fail;
        }
        PyObject *v = PyTuple_GET_ITEM(pair, 1);
        Py_INCREF(v);
        PyObject *old = PyTuple_GET_ITEM(out, s);
        PyTuple_SET_ITEM(out, s, v);
        Py_DECREF(old);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

static int
tuple_set(PyObject *t, Py_ssize_t i, PyObject *v)  /* steals nothing; t must be fresh */
{
    Py_INCREF(v);
    PyObject *old = PyTuple_GET_ITEM(t, i);
    PyTuple_SET_ITEM(t, i, v);
    Py_DECREF(old);
    return 0;
}

/* Stepper.split_step's miss when the parts it leads to were seen before: the id of the
   split slot of id mid with pg's part ids written (Stepper.split_write, the parts tuple
   found in Stepper._mintern), entered in pg's cache.  NULL when they were not (no error
   set) or on an error. */
static PyObject *
split_known(Ctx *c, PyObject *pg, PyObject *mid, PyObject *cache)
{
    if (c->mparts == NULL)
        return NULL;
    Py_ssize_t i = PyLong_AsSsize_t(mid);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= PyList_GET_SIZE(c->mparts))
        return NULL;
    PyObject *parts = PyList_GET_ITEM(c->mparts, i);
    if (!PyTuple_Check(parts))
        return NULL;
    PyObject *ids = tuple_with(parts, PyTuple_GET_ITEM(pg, 1));
    if (ids == NULL)
        return NULL;
    PyObject *mid2 = PyDict_GetItemWithError(c->mintern, ids);     /* borrowed */
    Py_DECREF(ids);
    if (mid2 == NULL)
        return NULL;
    if (PyDict_SetItem(cache, mid, mid2) < 0)
        return NULL;
    Py_INCREF(mid2);
    return mid2;
}

/* Stepper.key_after: wk with wids applied and, for part writes pg, the split slot's id */
static PyObject *
key_after(Ctx *c, PyObject *wk, PyObject *wids, PyObject *pg)
{
    PyObject *kl = tuple_with(wk, wids);
    if (kl == NULL || pg == Py_None)
        return kl;
    PyObject *mid = PyTuple_GET_ITEM(wk, c->m);
    PyObject *cache = PyTuple_GET_ITEM(pg, 0);
    PyObject *mid2 = PyDict_GetItemWithError(cache, mid);      /* borrowed */
    if (mid2 != NULL) {
        tuple_set(kl, c->m, mid2);
        return kl;
    }
    if (PyErr_Occurred())
        goto fail;
    mid2 = split_known(c, pg, mid, cache);     /* new reference or NULL */
    if (mid2 == NULL && PyErr_Occurred())
        goto fail;
    if (mid2 == NULL)       /* parts never seen together: Stepper.split_step interns them */
        mid2 = PyObject_CallFunctionObjArgs(c->split_step, pg, mid, NULL);
    if (mid2 == NULL)
        goto fail;
    tuple_set(kl, c->m, mid2);
    Py_DECREF(mid2);
    return kl;
fail:
    Py_DECREF(kl);
    return NULL;
}

/* Stepper.world_after */
static PyObject *
world_after(Ctx *c, PyObject *world, PyObject *writes, PyObject *pg)
{
    PyObject *w = tuple_with(world, writes);
    if (w == NULL || pg == Py_None)
        return w;
    PyObject *pages = tuple_with(PyTuple_GET_ITEM(world, c->m), PyTuple_GET_ITEM(pg, 2));
    if (pages == NULL) {
        Py_DECREF(w);
        return NULL;
    }
    tuple_set(w, c->m, pages);
    Py_DECREF(pages);
    return w;
}

/* locs[:tid] + (lid2,) + locs[tid + 1:] */
static PyObject *
locs_with(PyObject *locs, Py_ssize_t tid, PyObject *lid2)
{
    Py_ssize_t n = PyTuple_GET_SIZE(locs);
    PyObject *out = PyTuple_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = i == tid ? lid2 : PyTuple_GET_ITEM(locs, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(out, i, v);
    }
    return out;
}

static int
sync_n(Ctx *c, Py_ssize_t *n)
{
    *n = PyObject_Size(c->parent);
    if (*n < 0)
        return -1;
    *n += c->b_parent.n;
    return 0;
}

/* the callbacks that add states return the number of transitions they took */
static int
call_count(PyObject *r, Py_ssize_t *ntrans)
{
    if (r == NULL)
        return -1;
    Py_ssize_t k = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    if (k == -1 && PyErr_Occurred())
        return -1;
    *ntrans += k;
    return 0;
}

/* The id of the successor of key k2 in the visited table, claiming nobj (the next id) if it
   is new (borrowed).  With symmetry: the raw key seen before, else its orbit's key, and the
   raw key is entered beside it. */
static PyObject *
visit(Ctx *c, PyObject *k2, PyObject *nobj)
{
    PyObject *nido;
    if (c->vis != NULL) {
        if (c->canon == Py_None)
            return visited_setdefault(c->vis, k2, nobj);
        nido = visited_get(c->vis, k2);
    } else {
        if (c->canon == Py_None)
            return PyDict_SetDefault(c->ids, k2, nobj);
        nido = PyDict_GetItemWithError(c->ids, k2);
    }
    if (nido != NULL || PyErr_Occurred())
        return nido;
    PyObject *ck = keycanon_call(c->canon, c->canon_view, k2);
    if (ck == NULL)
        return NULL;
    if (c->vis != NULL) {
        nido = visited_setdefault(c->vis, ck, nobj);
        Py_DECREF(ck);
        if (nido == NULL || visited_set(c->vis, k2, nido) < 0)
            return NULL;
        return nido;
    }
    nido = PyDict_SetDefault(c->ids, ck, nobj);
    Py_DECREF(ck);
    if (nido == NULL || PyDict_SetItem(c->ids, k2, nido) < 0)
        return NULL;
    return nido;
}

#define STEP_MAX 256        /* world slots the in-place probe handles */

/* The compiled table's probe of a successor without building its key: the successor of
   the state being expanded (key (wk, locs), hash c->src_h) by a step writing the value ids
   wids and moving task tid to lid2.  1 with its hash in *h2 and its id in *found (borrowed)
   or NULL when it is new; 0 when the probe does not apply (some part not an int, a world
   too wide, writes not a tuple); -1 on an error.  exp[] (STEP_MAX entries) receives the
   successor's world key, borrowed, for building it when it is new. */
static int
step_probe(Ctx *c, PyObject *wk, PyObject *wids, PyObject *locs, Py_ssize_t tid,
           PyObject *lid2, uint64_t *h2, PyObject **found, PyObject **exp)
{
    Py_ssize_t n = PyTuple_GET_SIZE(wk);
    if (n > STEP_MAX || !PyTuple_Check(wids))
        return 0;
    for (Py_ssize_t j = 0; j < n; j++)
        exp[j] = PyTuple_GET_ITEM(wk, j);
    uint64_t h = c->src_h, a, b;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(wids); j++) {
        PyObject *pair = PyTuple_GET_ITEM(wids, j);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2)
            return 0;           /* tuple_with below reports it */
        Py_ssize_t s = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        if (s == -1 && PyErr_Occurred())
            return -1;
        if (s < 0)
            s += n;
        if (s < 0 || s >= n)
            return 0;
        PyObject *id = PyTuple_GET_ITEM(pair, 1);
        int t = visited_int(exp[s], &a), u = t > 0 ? visited_int(id, &b) : t;
        if (u <= 0)
            return u;
        h ^= visited_mix((uint64_t)s, a) ^ visited_mix((uint64_t)s, b);
        exp[s] = id;
    }
    int t = visited_int(PyTuple_GET_ITEM(locs, tid), &a), u = t > 0 ? visited_int(lid2, &b) : t;
    if (u <= 0)
        return u;
    h ^= visited_mix(VISITED_LOCS + (uint64_t)tid, a) ^ visited_mix(VISITED_LOCS + (uint64_t)tid, b);
    *found = visited_get_step(c->vis, h, exp, n, locs, tid, lid2);
    if (*found == NULL && PyErr_Occurred())
        return -1;
    *h2 = h;
    return 1;
}

/* Monitor.after_step on a new state nxt of id nido, reached by a step of task tid that
   changed the world slots in mask: the failing and reached properties go into the search's
   violations and witness, then the gates are reloaded if they can have changed.  A state in
   which every task has finished (the final properties), or no compiled checks, go through
   the search's on_new. */
static int
check_new(Ctx *c, PyObject *nxt, PyObject *mask, PyObject *tido, Py_ssize_t tid,
          PyObject *nido)
{
    PyObject *world = PyTuple_GET_ITEM(nxt, 0), *locs = PyTuple_GET_ITEM(nxt, 1);
    PyObject *lid = PyTuple_GET_ITEM(locs, tid);
    int t;
    if (c->delta != Py_None && c->has_final) {
        t = PySet_Contains(c->done_ids, lid);
        if (t > 0)
            t = some_task_left(c, locs);
        else if (t == 0)
            t = 1;
        if (t < 0)
            return -1;
    }
    if (c->delta == Py_None || (c->has_final && !t)) {
        if (flush_all(c) < 0)
            return -1;
        PyObject *g = PyObject_CallFunctionObjArgs(c->on_new, nxt, mask, tido, nido, NULL);
        if (g == NULL)
            return -1;
        t = load_gates(c, g);
        Py_DECREF(g);
        return t;
    }
    if (PyObject_SetAttr(c->view, s_world, world) < 0
            || PyObject_SetAttr(c->view, s_locs, locs) < 0)
        return -1;
    Py_ssize_t calls = n_fallbacks;
    PyObject *fail = PyList_New(0), *reach = NULL, *where = NULL;
    int ok = -1;
    if (fail == NULL)
        return -1;
    t = PyDict_Contains(c->violations, s_assertions);
    if (t == 0 && (t = PySet_Contains(c->crashed_ids, lid)) > 0)
        t = PyList_Append(fail, s_assertions);
    if (t < 0)
        goto done;
    if (PyList_GET_SIZE(c->always_m) > 0
            && delta_list(c->always_m, c->violations, c->w_false, mask, tido, world, locs,
                          c->absent, c->fallback, &where, fail) < 0)
        goto error;
    if ((reach = PyList_New(0)) == NULL)
        goto done;
    if (PyDict_GET_SIZE(c->witness) < c->n_sometimes
            && delta_list(c->sometimes_m, c->witness, c->w_true, mask, tido, world, locs,
                          c->absent, c->fallback, &where, reach) < 0)
        goto error;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(fail); i++)
        if (PyDict_SetItem(c->violations, PyList_GET_ITEM(fail, i), nido) < 0)
            goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(reach); i++)
        if (PyDict_SetItem(c->witness, PyList_GET_ITEM(reach, i), nido) < 0)
            goto done;
    ok = 0;
    if (PyList_GET_SIZE(fail) || PyList_GET_SIZE(reach) || n_fallbacks != calls)
        ok = refresh_gates(c);      /* a name recorded, or a memo's read set grown */
    goto done;
error:
    if (where != NULL) {            /* Monitor._run_delta's SpecError naming the property */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyErr_NormalizeException(&et, &ev, &tb);
        if (tb != NULL && ev != NULL)
            PyException_SetTraceback(ev, tb);
        PyObject *e = ev ? PyObject_CallFunctionObjArgs(c->raise_hook, where, ev, NULL) : NULL;
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(tb);
        if (e != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(e), e);
            Py_DECREF(e);
        }
    }
done:
    Py_DECREF(fail);
    Py_XDECREF(reach);
    return ok;
}

/* one outcome of the fast path (not chained): the successor's key, its id, the new state */
static int
one_outcome(Ctx *c, PyObject *world, PyObject *wk, PyObject *locs, PyObject *tido,
            Py_ssize_t tid, PyObject *shared, PyObject *sido, PyObject *d1o,
            PyObject *out, Py_ssize_t *n, PyObject **nobj)
{
    PyObject *ch = PyTuple_GET_ITEM(out, 0);
    PyObject *writes = PyTuple_GET_ITEM(out, 1);
    PyObject *wids = PyTuple_GET_ITEM(out, 2);
    PyObject *lid2 = PyTuple_GET_ITEM(out, 3);
    PyObject *mask = PyTuple_GET_ITEM(out, 5);
    PyObject *pg = PyTuple_GET_ITEM(out, 6);
    PyObject *wk2, *locs2, *k2 = NULL, *nido;
    int ok = -1, probed = 0;
    uint64_t h2 = 0;

    PyObject *exp[STEP_MAX];
    if (c->vis != NULL && c->src_parts && pg == Py_None) {
        PyObject *found = NULL;
        probed = step_probe(c, wk, wids, locs, tid, lid2, &h2, &found, exp);
        if (probed < 0)
            return -1;
        if (found != NULL) {            /* visited: no key built */
            if (c->record && (buf_push(&c->b_esrc, sido) < 0
                              || buf_push(&c->b_edst, found) < 0
                              || buf_push(&c->b_etid, tido) < 0))
                return -1;
            return 0;
        }
    }
    if (pg != Py_None) {
        wk2 = key_after(c, wk, wids, pg);
    } else if (probed && PyTuple_GET_SIZE(wids) > 0) {     /* the probe's key, written */
        Py_ssize_t nw = PyTuple_GET_SIZE(wk);
        wk2 = PyTuple_New(nw);
        if (wk2 != NULL)
            for (Py_ssize_t j = 0; j < nw; j++) {
                Py_INCREF(exp[j]);
                PyTuple_SET_ITEM(wk2, j, exp[j]);
            }
    } else {
        int t = PyObject_IsTrue(wids);
        if (t < 0)
            return -1;
        if (t) {
            wk2 = tuple_with(wk, wids);
        } else {
            wk2 = wk;
            Py_INCREF(wk2);
        }
    }
    if (wk2 == NULL)
        return -1;
    locs2 = PyDict_GetItemWithError(shared, lid2);
    if (locs2 != NULL) {
        Py_INCREF(locs2);
    } else {
        if (PyErr_Occurred())
            goto done;
        locs2 = locs_with(locs, tid, lid2);
        if (locs2 == NULL)
            goto done;
        if (PyDict_SetItem(shared, lid2, locs2) < 0)
            goto done;
    }
    k2 = PyTuple_Pack(2, wk2, locs2);
    if (k2 == NULL)
        goto done;
    if (*nobj == NULL) {
        *nobj = PyLong_FromSsize_t(*n);
        if (*nobj == NULL)
            goto done;
    }
    if (probed && c->canon == Py_None)  /* new: enter it under the hash of the probe */
        nido = visited_setdefault_h(c->vis, k2, *nobj, h2);
    else
        nido = visit(c, k2, *nobj);     /* borrowed */
    if (nido == NULL)
        goto done;
    Py_INCREF(nido);    /* the dict may be resized by the callbacks below */
    Py_ssize_t nid = PyLong_AsSsize_t(nido);
    if (nid == -1 && PyErr_Occurred()) {
        Py_DECREF(nido);
        goto done;
    }
    if (nid == *n) {
        PyObject *w2, *nxt, *entry;
        (*n)++;
        Py_CLEAR(*nobj);
        w2 = world_after(c, world, writes, pg);
        if (w2 == NULL)
            goto bad;
        nxt = PyTuple_Pack(2, w2, locs2);
        Py_DECREF(w2);
        if (nxt == NULL)
            goto bad;
        if (push_state(c, k2) < 0 || buf_push(&c->b_parent, sido) < 0
                || buf_push(&c->b_via_tid, tido) < 0)
            goto bad_nxt;
        int t = PyObject_IsTrue(ch);
        if (t < 0 || (t && PyDict_SetItem(c->via_choices, nido, ch) < 0))
            goto bad_nxt;
        if (buf_push(&c->b_depth, d1o) < 0)
            goto bad_nxt;
        t = must_check(c, mask, tid, lid2);
        if (t < 0 || (t && check_new(c, nxt, mask, tido, tid, nido) < 0))
            goto bad_nxt;
        entry = PyTuple_Pack(3, nido, nxt, k2);
        Py_DECREF(nxt);
        if (entry == NULL)
            goto bad;
        t = append1(c->fappend, entry);
        Py_DECREF(entry);
        if (t < 0)
            goto bad;
        goto recorded;
bad_nxt:
        Py_DECREF(nxt);
bad:
        Py_DECREF(nido);
        goto done;
    }
recorded:
    if (c->record) {
        if (buf_push(&c->b_esrc, sido) < 0 || buf_push(&c->b_edst, nido) < 0
                || buf_push(&c->b_etid, tido) < 0) {
            Py_DECREF(nido);
            goto done;
        }
    }
    Py_DECREF(nido);
    ok = 0;
done:
    Py_DECREF(wk2);
    Py_XDECREF(locs2);
    Py_XDECREF(k2);
    return ok;
}

/* not done_ids.issuperset(locs) */
static int
some_task_left(Ctx *c, PyObject *locs)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(locs); i++) {
        int t = PySet_Contains(c->done_ids, PyTuple_GET_ITEM(locs, i));
        if (t <= 0)
            return t < 0 ? -1 : 1;
    }
    return 0;
}

/* the memo node of task tid at local lid (Stepper._memo_node on a miss); new reference */
static PyObject *
memo_node(Ctx *c, PyObject *lid, PyObject *tido, Py_ssize_t tid)
{
    long long lv = PyLong_AsLongLong(lid);
    if (lv == -1 && PyErr_Occurred())
        return NULL;
    PyObject *key = PyLong_FromLongLong((lv << 16) | tid);
    if (key == NULL)
        return NULL;
    PyObject *node = PyDict_GetItemWithError(c->memo, key);
    if (node != NULL)
        Py_INCREF(node);
    else if (!PyErr_Occurred())
        node = PyObject_CallFunctionObjArgs(c->memo_node, lid, tido, NULL);
    Py_DECREF(key);
    return node;
}

/* Stepper._plan: per task of locs that has not finished, (tid, getter, outcomes by slot
   values, memo node, successor locals by next local id); new reference */
static PyObject *
make_plan(Ctx *c, PyObject *locs)
{
    PyObject *plan = PyList_New(0);
    if (plan == NULL)
        return NULL;
    for (Py_ssize_t tid = 0; tid < PyTuple_GET_SIZE(locs); tid++) {
        PyObject *tido = PyLong_FromSsize_t(tid), *node = NULL, *item = NULL, *d = NULL;
        if (tido == NULL)
            goto fail;
        node = memo_node(c, PyTuple_GET_ITEM(locs, tid), tido, tid);
        if (node == NULL) {
            Py_DECREF(tido);
            goto fail;
        }
        if (node != c->finished) {
            if (node == c->unmemo) {
                item = PyTuple_Pack(5, tido, Py_None, Py_None, node, Py_None);
            } else if (PyTuple_Check(node) && PyTuple_GET_SIZE(node) >= 2
                       && (d = PyDict_New()) != NULL) {
                item = PyTuple_Pack(5, tido, PyTuple_GET_ITEM(node, 0),
                                    PyTuple_GET_ITEM(node, 1), node, d);
            } else if (d == NULL && !PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "a memo node must be a tuple");
            }
            if (item == NULL || PyList_Append(plan, item) < 0) {
                Py_XDECREF(item);
                Py_XDECREF(d);
                Py_DECREF(node);
                Py_DECREF(tido);
                goto fail;
            }
            Py_DECREF(item);
            Py_XDECREF(d);
        }
        Py_DECREF(node);
        Py_DECREF(tido);
    }
    if (PyDict_GET_SIZE(c->plans) < c->max_plans && PyDict_SetItem(c->plans, locs, plan) < 0)
        goto fail;
    return plan;
fail:
    Py_DECREF(plan);
    return NULL;
}

/* The effect-memo key of a memo node's getter (node[6]) from a search key wk: () for None,
   step.PartsKey's statements for one (a 6-tuple), else the getter's call (new reference) */
static PyObject *
memo_key(PyObject *getter, PyObject *wk)
{
    if (getter == Py_None)
        return PyTuple_New(0);
    if (!PyTuple_Check(getter) || PyTuple_GET_SIZE(getter) != 6 || !PyTuple_Check(wk))
        return PyObject_CallOneArg(getter, wk);
    PyObject *others = PyTuple_GET_ITEM(getter, 0), *pick = PyTuple_GET_ITEM(getter, 2);
    PyObject *mparts = PyTuple_GET_ITEM(getter, 3), *cache = PyTuple_GET_ITEM(getter, 4);
    Py_ssize_t m = PyLong_AsSsize_t(PyTuple_GET_ITEM(getter, 1));
    if (m == -1 && PyErr_Occurred())
        return NULL;
    if (m < 0 || m >= PyTuple_GET_SIZE(wk) || (cache != Py_None && !PyDict_Check(cache)))
        return PyObject_CallOneArg(getter, wk);
    PyObject *o = others == Py_None ? PyTuple_New(0) : PyObject_CallOneArg(others, wk);
    if (o == NULL)
        return NULL;
    PyObject *got = NULL, *p = NULL, *r = NULL;
    if (cache != Py_None) {
        got = PyDict_GetItemWithError(cache, o);
        if (got != NULL)
            Py_INCREF(got);
        else if (!PyErr_Occurred())
            got = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(getter, 5), o, wk, NULL);
        if (got == NULL)
            goto done;
        if (!PyTuple_Check(got) || PyTuple_GET_SIZE(got) < 1) {
            PyErr_SetString(PyExc_TypeError, "a parts cache entry must be (pick, written)");
            goto done;
        }
        pick = PyTuple_GET_ITEM(got, 0);
    }
    PyObject *whole = PyTuple_GET_ITEM(wk, m);
    if (pick == Py_None) {
        p = whole;
        Py_INCREF(p);
    } else if (PyTuple_Check(pick)) {
        p = PyTuple_New(0);
    } else {
        PyObject *parts = PyObject_GetItem(mparts, whole);
        if (parts != NULL) {
            p = PyObject_CallOneArg(pick, parts);
            Py_DECREF(parts);
        }
    }
    if (p != NULL)
        r = PyTuple_Pack(2, o, p);
done:
    Py_DECREF(o);
    Py_XDECREF(got);
    Py_XDECREF(p);
    return r;
}

/* Stepper.fast_chain: continue an atomic section from local lid; append
   (tid, choices, state2, key2, mask) to out (mask None: the changes were not tracked) */
static int
fast_chain(Ctx *c, PyObject *world, PyObject *wk, PyObject *locs, PyObject *tido,
           Py_ssize_t tid, PyObject *lid, PyObject *choices, PyObject *mask, PyObject *out)
{
    PyObject *node = memo_node(c, lid, tido, tid);
    if (node == NULL)
        return -1;
    PyObject *res = NULL;
    int ok = -1;
    if (node != c->unmemo) {
        if (!PyTuple_Check(node) || PyTuple_GET_SIZE(node) < 7) {
            PyErr_SetString(PyExc_TypeError, "a memo node must be a tuple");
            goto done;
        }
        PyObject *getter = PyTuple_GET_ITEM(node, 6);
        PyObject *kouts = PyTuple_GET_ITEM(node, 5);
        PyObject *kv = memo_key(getter, wk);
        if (kv == NULL)
            goto done;
        res = PyDict_GetItemWithError(kouts, kv);
        if (res != NULL) {
            Py_INCREF(res);
        } else if (!PyErr_Occurred()) {
            res = PyObject_CallFunctionObjArgs(c->outcomes_of, world, tido, lid, node, wk,
                                               NULL);
            if (res != NULL && PyDict_SetItem(kouts, kv, res) < 0)
                Py_CLEAR(res);
        }
        Py_DECREF(kv);
        if (res == NULL)
            goto done;
    }
    int some = res != NULL ? PyObject_IsTrue(res) : 0;
    if (some < 0)
        goto done;
    if (!some) {    /* no memo, or blocked inside the section (_run raises the spec error) */
        PyObject *r = flush_all(c) < 0 ? NULL
            : PyObject_CallFunctionObjArgs(c->chain_generic, world, wk, locs, tido, lid,
                                           choices, out, NULL);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
        ok = 0;
        goto done;
    }
    PyObject *seq = PySequence_Fast(res, "outcomes must be a sequence");
    if (seq == NULL)
        goto done;
    for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(seq); j++) {
        PyObject *o = PySequence_Fast_GET_ITEM(seq, j);
        if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 7) {
            PyErr_SetString(PyExc_TypeError, "an outcome must be a 7-tuple");
            Py_DECREF(seq);
            goto done;
        }
        PyObject *writes = PyTuple_GET_ITEM(o, 1), *wids = PyTuple_GET_ITEM(o, 2);
        PyObject *lid2 = PyTuple_GET_ITEM(o, 3), *pg = PyTuple_GET_ITEM(o, 6);
        PyObject *w2, *wk2, *ch, *m2;
        int t = PyObject_IsTrue(writes);
        if (t < 0) {
            Py_DECREF(seq);
            goto done;
        }
        if (t || pg != Py_None) {
            w2 = world_after(c, world, writes, pg);
            wk2 = w2 != NULL ? key_after(c, wk, wids, pg) : NULL;
        } else {
            w2 = world;
            wk2 = wk;
            Py_INCREF(w2);
            Py_INCREF(wk2);
        }
        ch = wk2 != NULL ? PySequence_Concat(choices, PyTuple_GET_ITEM(o, 0)) : NULL;
        m2 = ch != NULL ? PyNumber_Or(mask, PyTuple_GET_ITEM(o, 5)) : NULL;
        int r = -1;
        if (m2 != NULL) {
            t = PyObject_IsTrue(PyTuple_GET_ITEM(o, 4));
            if (t > 0) {
                r = fast_chain(c, w2, wk2, locs, tido, tid, lid2, ch, m2, out);
            } else if (t == 0) {
                PyObject *locs2 = locs_with(locs, tid, lid2), *nxt = NULL, *k2 = NULL,
                         *item = NULL;
                if (locs2 != NULL && (nxt = PyTuple_Pack(2, w2, locs2)) != NULL
                        && (k2 = PyTuple_Pack(2, wk2, locs2)) != NULL
                        && (item = PyTuple_Pack(5, tido, ch, nxt, k2, m2)) != NULL)
                    r = PyList_Append(out, item);
                Py_XDECREF(locs2);
                Py_XDECREF(nxt);
                Py_XDECREF(k2);
                Py_XDECREF(item);
            }
        }
        Py_XDECREF(w2);
        Py_XDECREF(wk2);
        Py_XDECREF(ch);
        Py_XDECREF(m2);
        if (r < 0) {
            Py_DECREF(seq);
            goto done;
        }
    }
    Py_DECREF(seq);
    ok = 0;
done:
    Py_DECREF(node);
    Py_XDECREF(res);
    return ok;
}

/* Search._fast_items: the successors of an atomic section, (tid, choices, state2, key2,
   mask); mask None checks every property */
static int
fast_items(Ctx *c, PyObject *sido, PyObject *d1o, PyObject *items, Py_ssize_t *n,
           Py_ssize_t *ntrans)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *it = PyList_GET_ITEM(items, i);
        PyObject *tido = PyTuple_GET_ITEM(it, 0), *ch = PyTuple_GET_ITEM(it, 1);
        PyObject *nxt = PyTuple_GET_ITEM(it, 2), *k2 = PyTuple_GET_ITEM(it, 3);
        PyObject *mask = PyTuple_GET_ITEM(it, 4), *nido, *nobj;
        Py_ssize_t tid = PyLong_AsSsize_t(tido);
        if (tid == -1 && PyErr_Occurred())
            return -1;
        if (sync_n(c, n) < 0 || (nobj = PyLong_FromSsize_t(*n)) == NULL)
            return -1;
        nido = visit(c, k2, nobj);
        Py_DECREF(nobj);
        if (nido == NULL)
            return -1;
        Py_INCREF(nido);
        Py_ssize_t nid = PyLong_AsSsize_t(nido);
        int bad = nid == -1 && PyErr_Occurred();
        if (!bad && nid == *n) {
            int t;
            PyObject *g = NULL, *entry;
            bad = push_state(c, k2) < 0 || buf_push(&c->b_parent, sido) < 0
                  || buf_push(&c->b_via_tid, tido) < 0
                  || (t = PyObject_IsTrue(ch)) < 0
                  || (t && PyDict_SetItem(c->via_choices, nido, ch) < 0)
                  || buf_push(&c->b_depth, d1o) < 0;
            if (!bad && mask == Py_None) {
                g = flush_all(c) < 0 ? NULL
                    : PyObject_CallFunctionObjArgs(c->check_full, nido, nxt, NULL);
                bad = g == NULL || load_gates(c, g) < 0;
            } else if (!bad) {
                t = must_check(c, mask, tid,
                               PyTuple_GET_ITEM(PyTuple_GET_ITEM(nxt, 1), tid));
                bad = t < 0;
                if (t > 0)
                    bad = check_new(c, nxt, mask, tido, tid, nido) < 0;
            }
            Py_XDECREF(g);
            if (!bad) {
                entry = PyTuple_Pack(3, nido, nxt, k2);
                bad = entry == NULL || append1(c->fappend, entry) < 0;
                Py_XDECREF(entry);
            }
            (*n)++;
        }
        if (!bad && c->record)
            bad = buf_push(&c->b_esrc, sido) < 0 || buf_push(&c->b_edst, nido) < 0
                  || buf_push(&c->b_etid, tido) < 0;
        Py_DECREF(nido);
        if (bad)
            return -1;
    }
    *ntrans += PyList_GET_SIZE(items);
    return 0;
}

static int
plan_item(Ctx *c, PyObject *item, PyObject *world, PyObject *wk, PyObject *locs,
          PyObject *sido, PyObject *d1o, Py_ssize_t *n, Py_ssize_t *ntrans, PyObject **nobj)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 5) {
        PyErr_SetString(PyExc_TypeError, "a plan item must be a 5-tuple");
        return -1;
    }
    PyObject *tido = PyTuple_GET_ITEM(item, 0);
    PyObject *outs = PyTuple_GET_ITEM(item, 2);
    PyObject *node = PyTuple_GET_ITEM(item, 3);
    PyObject *shared = PyTuple_GET_ITEM(item, 4);
    Py_ssize_t tid = PyLong_AsSsize_t(tido);
    if (tid == -1 && PyErr_Occurred())
        return -1;
    if (outs == Py_None) {
        if (flush_all(c) < 0
                || call_count(PyObject_CallFunctionObjArgs(c->generic, world, locs, tido, wk,
                                                           sido, d1o, NULL), ntrans) < 0
                || sync_n(c, n) < 0 || refresh_gates(c) < 0)
            return -1;
        Py_CLEAR(*nobj);
        return 0;
    }
    PyObject *getter = PyTuple_GET_ITEM(node, 6);
    PyObject *kouts = PyTuple_GET_ITEM(node, 5);
    PyObject *kv = memo_key(getter, wk);
    if (kv == NULL)
        return -1;
    PyObject *res = PyDict_GetItemWithError(kouts, kv);
    if (res != NULL) {
        Py_INCREF(res);
    } else {
        if (PyErr_Occurred()) {
            Py_DECREF(kv);
            return -1;
        }
        res = PyObject_CallFunctionObjArgs(c->outcomes_of, world, tido,
                                           PyTuple_GET_ITEM(locs, tid), node, wk, NULL);
        if (res == NULL || PyDict_SetItem(kouts, kv, res) < 0) {
            Py_XDECREF(res);
            Py_DECREF(kv);
            return -1;
        }
    }
    Py_DECREF(kv);
    PyObject *seq = PySequence_Fast(res, "outcomes must be a sequence");
    Py_DECREF(res);
    if (seq == NULL)
        return -1;
    int ok = -1;
    for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(seq); j++) {
        PyObject *out = PySequence_Fast_GET_ITEM(seq, j);
        if (!PyTuple_Check(out) || PyTuple_GET_SIZE(out) != 7) {
            PyErr_SetString(PyExc_TypeError, "an outcome must be a 7-tuple");
            goto done;
        }
        int chained = PyObject_IsTrue(PyTuple_GET_ITEM(out, 4));
        if (chained < 0)
            goto done;
        if (chained) {
            PyObject *pg = PyTuple_GET_ITEM(out, 6);
            PyObject *w2 = world_after(c, world, PyTuple_GET_ITEM(out, 1), pg);
            PyObject *wk2 = w2 != NULL ? key_after(c, wk, PyTuple_GET_ITEM(out, 2), pg) : NULL;
            PyObject *items = wk2 != NULL ? PyList_New(0) : NULL;
            int r = items == NULL
                || fast_chain(c, w2, wk2, locs, tido, tid, PyTuple_GET_ITEM(out, 3),
                              PyTuple_GET_ITEM(out, 0), PyTuple_GET_ITEM(out, 5), items) < 0
                || fast_items(c, sido, d1o, items, n, ntrans) < 0
                || sync_n(c, n) < 0;
            Py_XDECREF(w2);
            Py_XDECREF(wk2);
            Py_XDECREF(items);
            if (r)
                goto done;
            Py_CLEAR(*nobj);
            continue;
        }
        (*ntrans)++;
        if (one_outcome(c, world, wk, locs, tido, tid, shared, sido, d1o, out, n, nobj) < 0)
            goto done;
    }
    ok = 0;
done:
    Py_DECREF(seq);
    return ok;
}

/* one frontier entry: all its successors; the entry is popped when it is done */
static int
expand_entry(Ctx *c, PyObject *entry, Py_ssize_t *n, Py_ssize_t *transitions)
{
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) < 2) {
        PyErr_SetString(PyExc_TypeError, "a frontier entry must be (id, state[, key])");
        return -1;
    }
    PyObject *sido = PyTuple_GET_ITEM(entry, 0);
    PyObject *state = PyTuple_GET_ITEM(entry, 1);
    PyObject *wk, *plan = NULL, *d1o = NULL, *nobj = NULL;
    int ok = -1;
    if (PyTuple_GET_SIZE(entry) > 2) {
        wk = PyTuple_GET_ITEM(PyTuple_GET_ITEM(entry, 2), 0);
        Py_INCREF(wk);
    } else {
        PyObject *k = PyObject_CallOneArg(c->vkey, state);
        if (k == NULL)
            return -1;
        wk = PyTuple_GET_ITEM(k, 0);
        Py_INCREF(wk);
        Py_DECREF(k);
    }
    PyObject *world = PyTuple_GET_ITEM(state, 0);
    PyObject *locs = PyTuple_GET_ITEM(state, 1);
    c->src_parts = 0;
    if (c->vis != NULL && PyTuple_Check(wk) && PyTuple_Check(locs)) {
        c->src_parts = visited_hash_parts(wk, locs, &c->src_h);
        if (c->src_parts < 0)
            goto done;
    }
    plan = PyDict_GetItemWithError(c->plans, locs);
    if (plan != NULL) {
        Py_INCREF(plan);
    } else {
        if (PyErr_Occurred())
            goto done;
        plan = make_plan(c, locs);
        if (plan == NULL)
            goto done;
    }
    Py_ssize_t sid = PyLong_AsSsize_t(sido);
    if (sid == -1 && PyErr_Occurred())
        goto done;
    PyObject *d = buf_item(&c->b_depth, c->depth, sid);
    if (d == NULL)
        goto done;
    Py_ssize_t dv = PyLong_AsSsize_t(d);
    Py_DECREF(d);
    if (dv == -1 && PyErr_Occurred())
        goto done;
    d1o = PyLong_FromSsize_t(dv + 1);
    if (d1o == NULL || sync_n(c, n) < 0)
        goto done;
    Py_ssize_t ntrans = 0;
    PyObject *seq = PySequence_Fast(plan, "a plan must be a sequence");
    if (seq == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        if (plan_item(c, PySequence_Fast_GET_ITEM(seq, i), world, wk, locs, sido, d1o, n,
                      &ntrans, &nobj) < 0) {
            Py_DECREF(seq);
            goto done;
        }
    }
    Py_DECREF(seq);
    if (!ntrans) {
        int t = some_task_left(c, locs);
        if (t < 0)
            goto done;
        if (t) {
            PyObject *r = flush_all(c) < 0 ? NULL
                : PyObject_CallFunctionObjArgs(c->deadlock, sido, state, NULL);
            if (r == NULL)
                goto done;
            Py_DECREF(r);
        }
    }
    *transitions += ntrans;
    ok = 0;
done:
    Py_DECREF(wk);
    Py_XDECREF(plan);
    Py_XDECREF(d1o);
    Py_XDECREF(nobj);
    return ok;
}

static PyObject *
bfs_batch(PyObject *self, PyObject *args)
{
    Ctx c;
    memset(&c, 0, sizeof c);
    Py_ssize_t batch;
    if (!PyArg_ParseTuple(args, "OOOOOOnOOOOOOOOOOOpnnpOOOOOOOOOOOOnnO:bfs_batch",
                          &c.frontier, &c.popleft, &c.fappend, &c.plans,
                          &c.outcomes_of, &c.vkey, &c.m, &c.split_step, &c.ids, &c.canon,
                          &c.states_append, &c.parent, &c.parent_append, &c.via_tid_append,
                          &c.depth, &c.depth_append, &c.via_choices, &c.esrc_append,
                          &c.record, &c.graph_limit, &c.max_states, &c.stop_at_first,
                          &c.violations, &c.done_ids, &c.gates, &c.on_new, &c.generic,
                          &c.deadlock, &c.memo, &c.memo_node, &c.unmemo,
                          &c.chain_generic, &c.check_full, &c.finished,
                          &c.max_plans, &batch, &c.delta))
        return NULL;
    c.vis = Visited_Check(c.ids) ? (VisitedObject *)c.ids : NULL;
    /* split_step: Stepper.split_step, or (it, Stepper._mparts, Stepper._mintern) */
    if (PyTuple_Check(c.split_step)) {
        if (!PyArg_ParseTuple(c.split_step, "OO!O!:split_step", &c.split_step, &PyList_Type,
                              &c.mparts, &PyDict_Type, &c.mintern))
            return NULL;
    }
    if (c.delta != Py_None) {
        if (!PyArg_ParseTuple(c.delta, "OO!O!O!pOOOO!n:compiled_checks", &c.view,
                              &PyList_Type, &c.always_m, &PyList_Type, &c.sometimes_m,
                              &PySet_Type, &c.crashed_ids, &c.has_final, &c.absent,
                              &c.fallback, &c.raise_hook, &PyDict_Type, &c.witness,
                              &c.n_sometimes))
            return NULL;
        if (!PyDict_Check(c.violations)) {
            PyErr_SetString(PyExc_TypeError, "violations must be a dict");
            return NULL;
        }
        PyObject *one = PyLong_FromLong(1);
        if (one == NULL)
            return NULL;
        c.w_false = PyTuple_Pack(2, Py_False, one);
        c.w_true = PyTuple_Pack(2, Py_True, one);
        Py_DECREF(one);
        if (c.w_false == NULL || c.w_true == NULL) {
            Py_XDECREF(c.w_false);
            Py_XDECREF(c.w_true);
            return NULL;
        }
    }
    if (c.record) {
        /* esrc_append carries a 3-tuple of the graph's append methods */
        PyObject *t = c.esrc_append;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3) {
            PyErr_SetString(PyExc_TypeError, "the graph's appends must be a 3-tuple");
            return NULL;
        }
        c.esrc_append = PyTuple_GET_ITEM(t, 0);
        c.edst_append = PyTuple_GET_ITEM(t, 1);
        c.etid_append = PyTuple_GET_ITEM(t, 2);
    }
    buf_init(&c.b_parent, c.parent_append);
    buf_init(&c.b_via_tid, c.via_tid_append);
    buf_init(&c.b_depth, c.depth_append);
    if (c.b_depth.arr != c.depth)      /* depth is read back through the buffer */
        c.b_depth.arr = NULL;
    if (c.b_parent.arr != c.parent)    /* sync_n counts the pending parents */
        c.b_parent.arr = NULL;
    buf_init(&c.b_esrc, c.record ? c.esrc_append : NULL);
    buf_init(&c.b_edst, c.record ? c.edst_append : NULL);
    buf_init(&c.b_etid, c.record ? c.etid_append : NULL);
    if (PyCFunction_Check(c.states_append)
            && PyList_CheckExact(PyCFunction_GET_SELF(c.states_append))
            && strcmp(((PyCFunctionObject *)c.states_append)->m_ml->ml_name, "append") == 0)
        c.states_list = PyCFunction_GET_SELF(c.states_append);
    if (refresh_gates(&c) < 0)
        return NULL;
    Py_ssize_t expanded = 0, transitions = 0, n = 0;
    if (c.canon != Py_None) {
        c.canon_view = PyObject_GetAttrString(c.canon, "compiled_view");
        if (c.canon_view == NULL)
            PyErr_Clear();          /* a canon without one: called for every key */
    }
    int code = 1;
    while (expanded < batch) {
        Py_ssize_t left = PyObject_Size(c.frontier);
        if (left < 0)
            goto fail;
        if (left == 0) {
            code = 0;
            break;
        }
        PyObject *entry = PySequence_GetItem(c.frontier, 0);
        if (entry == NULL)
            goto fail;
        expanded++;
        int r = expand_entry(&c, entry, &n, &transitions);
        Py_DECREF(entry);
        if (r < 0)
            goto fail;
        PyObject *p = PyObject_CallNoArgs(c.popleft);
        if (p == NULL)
            goto fail;
        Py_DECREF(p);
        if (c.record && n > c.graph_limit) {
            code = 2;
            break;
        }
        if (n >= c.max_states && PyObject_Size(c.frontier) > 0) {
            code = 3;
            break;
        }
        if (c.stop_at_first && PyDict_GET_SIZE(c.violations) > 0) {
            code = 4;
            break;
        }
    }
    Py_XDECREF(c.gw);
    Py_XDECREF(c.gl);
    Py_XDECREF(c.w_false);
    Py_XDECREF(c.w_true);
    Py_XDECREF(c.canon_view);
    if (flush_all(&c) < 0) {
        free_all(&c);
        return NULL;
    }
    free_all(&c);
    return Py_BuildValue("(inn)", code, expanded, transitions);
fail:
    Py_XDECREF(c.gw);
    Py_XDECREF(c.gl);
    Py_XDECREF(c.w_false);
    Py_XDECREF(c.w_true);
    Py_XDECREF(c.canon_view);
    {   /* keep the arrays in step with the states list; the exception stays the first one */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (flush_all(&c) < 0)
            PyErr_Clear();
        PyErr_Restore(et, ev, tb);
    }
    free_all(&c);
    /* the transitions of the entries already popped are lost with the exception: the
       caller stops the search on it */
    return NULL;
}

/* -- the property memo (model/engines/monitor.py, _PropertyMemo.value and
      Monitor._run_delta) ------------------------------------------------------------ */

/* _PropertyMemo.value's walk of the decision tree: the leaf (borrowed Py_True/Py_False),
   or NULL with no exception set on a miss */
static PyObject *
tree_walk(PyObject *node, PyObject *world, PyObject *locs, PyObject *absent)
{
    while (node != Py_None) {
        if (PyBool_Check(node))
            return node;
        if (!PyTuple_Check(node) || PyTuple_GET_SIZE(node) != 3) {
            PyErr_SetString(PyExc_TypeError, "a property memo node must be a 3-tuple");
            return NULL;
        }
        PyObject *read = PyTuple_GET_ITEM(node, 0), *children = PyTuple_GET_ITEM(node, 1);
        PyObject *last = PyTuple_GET_ITEM(node, 2), *kind = PyTuple_GET_ITEM(read, 0);
        Py_ssize_t arg = PyLong_AsSsize_t(PyTuple_GET_ITEM(read, 1));
        PyObject *v;
        if (arg == -1 && PyErr_Occurred())
            PyErr_Clear();          /* a kind whose argument is not an index */
        Py_UCS4 k = PyUnicode_GET_LENGTH(kind) == 1 ? PyUnicode_READ_CHAR(kind, 0) : 0;
        if (k == 's') {
            if (arg < 0 || arg >= PyTuple_GET_SIZE(world)) {
                PyErr_SetString(PyExc_IndexError, "tuple index out of range");
                return NULL;
            }
            v = PyTuple_GET_ITEM(world, arg);
            Py_INCREF(v);
        } else if (k == 'l') {
            v = arg >= 0 && arg < PyTuple_GET_SIZE(locs) ? PyTuple_GET_ITEM(locs, arg) : absent;
            Py_INCREF(v);
        } else if (k == 'L') {
            v = locs;
            Py_INCREF(v);
        } else {
            v = PyTuple_Pack(2, world, locs);
            if (v == NULL)
                return NULL;
        }
        if (v == PyList_GET_ITEM(last, 0)) {
            /* the same object as last time: no hash of a possibly large value */
            node = PyList_GET_ITEM(last, 1);
            Py_DECREF(v);
            continue;
        }
        node = PyDict_GetItemWithError(children, v);
        if (node == NULL) {
            Py_DECREF(v);
            return NULL;
        }
        Py_INCREF(node);
        if (PyList_SetItem(last, 0, v) < 0 || PyList_SetItem(last, 1, node) < 0)
            return NULL;
        /* node stays alive: the tree holds it */
    }
    return NULL;
}

/* (mask & wm) or (lm >> tid) & 1, on Python ints */
static int
reads_changed(PyObject *wm, PyObject *lm, PyObject *mask, PyObject *tido)
{
    PyObject *a = PyNumber_And(wm, mask);
    if (a == NULL)
        return -1;
    int t = PyObject_IsTrue(a);
    Py_DECREF(a);
    if (t)
        return t;
    PyObject *sh = PyNumber_Rshift(lm, tido);
    if (sh == NULL)
        return -1;
    long long low = PyLong_AsLongLongAndOverflow(sh, &t);
    if (low == -1 && PyErr_Occurred()) {
        Py_DECREF(sh);
        return -1;
    }
    if (t) {        /* wider than 64 bits: its lowest bit */
        PyObject *one = PyLong_FromLong(1), *b = one ? PyNumber_And(sh, one) : NULL;
        Py_XDECREF(one);
        Py_DECREF(sh);
        if (b == NULL)
            return -1;
        t = PyObject_IsTrue(b);
        Py_DECREF(b);
        return t;
    }
    Py_DECREF(sh);
    return (int)(low & 1);
}

static PyObject *s_name, *s_on, *s_whole, *s_wmask, *s_lmask, *s_root, *s_evals;

static int
attr_true(PyObject *o, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL)
        return -1;
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    return t;
}

/* one property of run_delta: 1 it has the value want, 0 not or not evaluated, -1 error */
static int
delta_one(PyObject *p, PyObject *memo, PyObject *mask, PyObject *tido, PyObject *world,
          PyObject *locs, PyObject *absent, PyObject *fallback, PyObject *want)
{
    PyObject *value = NULL;
    int t;
    if (memo != Py_None && (t = attr_true(memo, s_on)) != 0) {
        if (t < 0)
            return -1;
        if ((t = attr_true(memo, s_whole)) < 0)
            return -1;
        if (!t) {
            PyObject *wm = PyObject_GetAttr(memo, s_wmask);
            PyObject *lm = wm ? PyObject_GetAttr(memo, s_lmask) : NULL;
            t = lm ? reads_changed(wm, lm, mask, tido) : -1;
            Py_XDECREF(wm);
            Py_XDECREF(lm);
            if (t <= 0)
                return t;       /* reads nothing the step changed: inherited value */
        }
        PyObject *ev = PyObject_GetAttr(memo, s_evals), *ev1 = NULL, *root = NULL;
        if (ev != NULL && (ev1 = PyNumber_Add(ev, PyTuple_GET_ITEM(want, 1))) != NULL
                && PyObject_SetAttr(memo, s_evals, ev1) == 0)
            root = PyObject_GetAttr(memo, s_root);
        Py_XDECREF(ev);
        Py_XDECREF(ev1);
        if (root == NULL)
            return -1;
        value = tree_walk(root, world, locs, absent);
        Py_XINCREF(value);
        Py_DECREF(root);
        if (value == NULL) {
            if (PyErr_Occurred())
                return -1;
            n_fallbacks++;
            value = PyObject_CallFunctionObjArgs(fallback, p, memo, NULL);     /* a miss */
        }
    } else {
        n_fallbacks++;
        value = PyObject_CallFunctionObjArgs(fallback, p, Py_None, NULL);
    }
    if (value == NULL)
        return -1;
    t = value == PyTuple_GET_ITEM(want, 0);
    Py_DECREF(value);
    return t;
}

/* Monitor._run_delta's loop: append to out the names of the properties of props =
   [(p, memo)] not in skip that read something the step changed (mask: world slots, tid:
   the task) and have the value w[0] (w = (want, 1)); fallback(p, memo) evaluates a property
   the memo cannot answer (memo None or off: the property itself; else the memo's miss).
   On an error *where is the property (borrowed). */
static int
delta_list(PyObject *props, PyObject *skip, PyObject *w, PyObject *mask, PyObject *tido,
           PyObject *world, PyObject *locs, PyObject *absent, PyObject *fallback,
           PyObject **where, PyObject *out)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(props); i++) {
        PyObject *pm = PyList_GET_ITEM(props, i);
        PyObject *p = PyTuple_GET_ITEM(pm, 0), *memo = PyTuple_GET_ITEM(pm, 1);
        PyObject *name = PyObject_GetAttr(p, s_name);
        if (name == NULL) {
            *where = p;
            return -1;
        }
        int t = PySequence_Contains(skip, name);
        if (t == 0)
            t = delta_one(p, memo, mask, tido, world, locs, absent, fallback, w);
        else if (t > 0)
            t = 0;
        if (t > 0)
            t = PyList_Append(out, name) < 0 ? -1 : 1;
        Py_DECREF(name);
        if (t < 0) {
            *where = p;
            return -1;
        }
    }
    return 0;
}

/* Monitor._run_delta: the list delta_list builds; on an error where[0] is the property */
static PyObject *
run_delta(PyObject *self, PyObject *args)
{
    PyObject *props, *skip, *want, *mask, *tido, *world, *locs, *absent, *fallback, *where;
    if (!PyArg_ParseTuple(args, "O!OOOO!O!O!OOO!:run_delta", &PyList_Type, &props, &skip,
                          &want, &mask, &PyLong_Type, &tido, &PyTuple_Type, &world,
                          &PyTuple_Type, &locs, &absent, &fallback, &PyList_Type, &where))
        return NULL;
    PyObject *one = PyLong_FromLong(1);
    PyObject *w = one ? PyTuple_Pack(2, want, one) : NULL;     /* (want, 1) */
    Py_XDECREF(one);
    PyObject *out = w ? PyList_New(0) : NULL, *p = NULL;
    if (out == NULL) {
        Py_XDECREF(w);
        return NULL;
    }
    if (delta_list(props, skip, w, mask, tido, world, locs, absent, fallback, &p, out) < 0) {
        if (p != NULL && PyList_GET_SIZE(where) > 0) {
            Py_INCREF(p);
            PyList_SetItem(where, 0, p);
        }
        Py_CLEAR(out);
    }
    Py_DECREF(w);
    return out;
}

/* memo_key to Python, for the test that compares it with step.PartsKey.__call__ */
static PyObject *
memo_key_py(PyObject *self, PyObject *args)
{
    PyObject *getter, *wk;
    if (!PyArg_ParseTuple(args, "OO:memo_key", &getter, &wk))
        return NULL;
    return memo_key(getter, wk);
}

/* keycanon_fast to Python, for the test that compares it with KeyCanon.__call__ */
static PyObject *
keycanon_py(PyObject *self, PyObject *args)
{
    PyObject *canon, *view, *key;
    if (!PyArg_ParseTuple(args, "OO!O:keycanon", &canon, &PyTuple_Type, &view, &key))
        return NULL;
    return keycanon_fast(canon, view, key);
}

static PyMethodDef methods[] = {
    {"keycanon", keycanon_py, METH_VARARGS,
     "keycanon(canon, view, key): the compiled canonical key, or None where KeyCanon is called."},
    {"memo_key", memo_key_py, METH_VARARGS,
     "memo_key(getter, wk): the effect-memo key the compiled loop reads off a search key."},
    {"bfs_batch", bfs_batch, METH_VARARGS,
     "Expand up to a batch of the fast BFS's frontier entries (see Search._bfs_fast)."},
    {"run_delta", run_delta, METH_VARARGS,
     "Monitor._run_delta: the properties a step can have changed, through their memos."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_bfsloop",
    "The compiled inner loop of khomc's fast breadth-first search.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__bfsloop(void)
{
    if (!(s_name = PyUnicode_InternFromString("name")) || !(s_on = PyUnicode_InternFromString("on"))
            || !(s_whole = PyUnicode_InternFromString("whole"))
            || !(s_wmask = PyUnicode_InternFromString("wmask"))
            || !(s_lmask = PyUnicode_InternFromString("lmask"))
            || !(s_root = PyUnicode_InternFromString("root"))
            || !(s_evals = PyUnicode_InternFromString("evals"))
            || !(s_world = PyUnicode_InternFromString("world"))
            || !(s_locs = PyUnicode_InternFromString("locs"))
            || !(s_assertions = PyUnicode_InternFromString("assertions")))
        return NULL;
    if (PyType_Ready(&Visited_Type) < 0)
        return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL)
        return NULL;
    Py_INCREF(&Visited_Type);
    if (PyModule_AddObject(mod, "Visited", (PyObject *)&Visited_Type) < 0) {
        Py_DECREF(&Visited_Type);
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
