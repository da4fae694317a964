/* khomc.engines._liveness - the graph passes of the termination check, compiled.
 *
 * Owns the three loops of model/engines/liveness.py that walk every state and edge of the
 * recorded graph: the adjacency in compressed sparse rows (_csr), the strongly connected
 * components (strongly_connected: the same iterative Tarjan, so the same component
 * numbers), and the summary of each component that fair_cycles tests (does a task step
 * inside it, is every task enabled in all its states among those).  liveness.py keeps
 * the Python versions as the reference (KHOMC_PURE_PYTHON=1 or no compiler runs them) and
 * everything that reads the result: the lasso, its choices, the report.
 * properties/engine/test_liveness_compiled.py compares the two on random graphs and on
 * the scenarios.
 *
 * The arrays are Python arrays (array.array: 'l' for nodes and offsets, 'h' for tasks),
 * allocated by the caller and filled here through the buffer protocol.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef struct {
    Py_buffer b;
    Py_ssize_t n;
} Arr;

/* a 1-d buffer of items of size *size* (SL: 'l', SH: 'h') */
static int
get_arr(PyObject *o, Arr *a, Py_ssize_t size, int writable, const char *what)
{
    if (PyObject_GetBuffer(o, &a->b, PyBUF_FORMAT | PyBUF_ND
                                         | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (a->b.itemsize != size || a->b.ndim != 1) {
        PyErr_Format(PyExc_TypeError, "%s: an array of %zd-byte items is needed", what,
                     size);
        PyBuffer_Release(&a->b);
        return -1;
    }
    a->n = a->b.len / size;
    return 0;
}

#define SL ((Py_ssize_t)sizeof(long))      /* array('l') */
#define SH ((Py_ssize_t)sizeof(short))     /* array('h') */
#define L(a) ((long *)(a).b.buf)
#define H(a) ((short *)(a).b.buf)

static int
check_nodes(const long *v, Py_ssize_t m, Py_ssize_t n, const char *what)
{
    for (Py_ssize_t i = 0; i < m; i++)
        if (v[i] < 0 || v[i] >= n) {
            PyErr_Format(PyExc_ValueError, "%s: node %ld out of range", what, v[i]);
            return -1;
        }
    return 0;
}

/* csr(n, src, dst, tid, start, out_dst, out_tid): liveness._csr into the given arrays
   (start n + 1 items, out_dst and out_tid one per edge) */
static PyObject *
csr(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    PyObject *o[6];
    if (!PyArg_ParseTuple(args, "nOOOOOO:csr", &n, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]))
        return NULL;
    Arr src, dst, tid, start, odst, otid;
    Arr *all[6] = {&src, &dst, &tid, &start, &odst, &otid};
    static const Py_ssize_t size[6] = {SL, SL, SH, SL, SL, SH};
    int got = 0;
    PyObject *r = NULL;
    for (; got < 6; got++)
        if (get_arr(o[got], all[got], size[got], got >= 3, "csr") < 0)
            goto done;
    Py_ssize_t m = src.n;
    if (dst.n != m || tid.n != m || odst.n != m || otid.n != m || start.n != n + 1) {
        PyErr_SetString(PyExc_ValueError, "csr: the arrays' lengths do not match");
        goto done;
    }
    if (check_nodes(L(src), m, n, "csr") < 0)
        goto done;
    long *count = L(start);
    memset(count, 0, sizeof(long) * (size_t)(n + 1));
    for (Py_ssize_t i = 0; i < m; i++)
        count[L(src)[i] + 1]++;
    for (Py_ssize_t i = 0; i < n; i++)
        count[i + 1] += count[i];
    long *fill = PyMem_Malloc(sizeof(long) * (size_t)(n + 1));
    if (fill == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(fill, count, sizeof(long) * (size_t)(n + 1));
    for (Py_ssize_t i = 0; i < m; i++) {
        long k = fill[L(src)[i]]++;
        L(odst)[k] = L(dst)[i];
        H(otid)[k] = H(tid)[i];
    }
    PyMem_Free(fill);
    r = Py_NewRef(Py_None);
done:
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&all[i]->b);
    return r;
}

/* scc(n, start, dst, comp): liveness.strongly_connected into comp (n items); returns the
   number of components */
static PyObject *
scc(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    PyObject *os, *od, *oc;
    if (!PyArg_ParseTuple(args, "nOOO:scc", &n, &os, &od, &oc))
        return NULL;
    Arr start, dst, comp;
    if (get_arr(os, &start, SL, 0, "scc") < 0)
        return NULL;
    if (get_arr(od, &dst, SL, 0, "scc") < 0) {
        PyBuffer_Release(&start.b);
        return NULL;
    }
    if (get_arr(oc, &comp, SL, 1, "scc") < 0) {
        PyBuffer_Release(&start.b);
        PyBuffer_Release(&dst.b);
        return NULL;
    }
    PyObject *r = NULL;
    long *index = NULL, *low = NULL, *stack = NULL, *wu = NULL, *wk = NULL;
    char *on = NULL;
    if (start.n != n + 1 || comp.n != n || (n > 0 && L(start)[n] != dst.n)) {
        PyErr_SetString(PyExc_ValueError, "scc: the arrays' lengths do not match");
        goto done;
    }
    if (check_nodes(L(dst), dst.n, n, "scc") < 0)
        goto done;
    size_t sz = sizeof(long) * (size_t)(n > 0 ? n : 1);
    index = PyMem_Malloc(sz);
    low = PyMem_Malloc(sz);
    stack = PyMem_Malloc(sz);
    wu = PyMem_Malloc(sz);
    wk = PyMem_Malloc(sz);
    on = PyMem_Calloc((size_t)(n > 0 ? n : 1), 1);
    if (!index || !low || !stack || !wu || !wk || !on) {
        PyErr_NoMemory();
        goto done;
    }
    const long *st = L(start), *d = L(dst);
    long *cp = L(comp);
    for (Py_ssize_t i = 0; i < n; i++) {
        index[i] = -1;
        cp[i] = -1;
    }
    long counter = 0, ncomp = 0;
    Py_ssize_t sp = 0;
    for (Py_ssize_t root = 0; root < n; root++) {
        if (index[root] != -1)
            continue;
        Py_ssize_t top = 0;        /* the work stack: (node, next edge) */
        wu[0] = (long)root;
        wk[0] = st[root];
        index[root] = low[root] = counter++;
        stack[sp++] = (long)root;
        on[root] = 1;
        top = 1;
        while (top > 0) {
            long u = wu[top - 1], k = wk[top - 1];
            if (k < st[u + 1]) {
                wk[top - 1] = k + 1;
                long v = d[k];
                if (index[v] == -1) {
                    index[v] = low[v] = counter++;
                    stack[sp++] = v;
                    on[v] = 1;
                    wu[top] = v;
                    wk[top] = st[v];
                    top++;
                } else if (on[v] && index[v] < low[u]) {
                    low[u] = index[v];
                }
                continue;
            }
            top--;
            if (top > 0) {
                long p = wu[top - 1];
                if (low[u] < low[p])
                    low[p] = low[u];
            }
            if (low[u] == index[u]) {
                for (;;) {
                    long w = stack[--sp];
                    on[w] = 0;
                    cp[w] = ncomp;
                    if (w == u)
                        break;
                }
                ncomp++;
            }
        }
    }
    r = PyLong_FromLong(ncomp);
done:
    PyMem_Free(index);
    PyMem_Free(low);
    PyMem_Free(stack);
    PyMem_Free(wu);
    PyMem_Free(wk);
    PyMem_Free(on);
    PyBuffer_Release(&start.b);
    PyBuffer_Release(&dst.b);
    PyBuffer_Release(&comp.b);
    return r;
}

/* fair(n, ncomp, start, dst, tid, comp): ([(component, tasks that must step)] for the
   components fair_cycles yields, in its order - by their smallest node -, whether any edge
   stays inside its component).  Tasks are bits of a 64-bit mask: ValueError for a task id
   outside 0..63 (the caller runs the Python version then). */
static PyObject *
fair(PyObject *self, PyObject *args)
{
    Py_ssize_t n, ncomp;
    PyObject *os, *od, *ot, *oc;
    if (!PyArg_ParseTuple(args, "nnOOOO:fair", &n, &ncomp, &os, &od, &ot, &oc))
        return NULL;
    Arr start, dst, tid, comp;
    Arr *all[4] = {&start, &dst, &tid, &comp};
    PyObject *o[4] = {os, od, ot, oc};
    static const Py_ssize_t size[4] = {SL, SL, SH, SL};
    int got = 0;
    PyObject *r = NULL, *out = NULL;
    uint64_t *taken = NULL, *always = NULL;
    char *seen = NULL;
    for (; got < 4; got++)
        if (get_arr(o[got], all[got], size[got], 0, "fair") < 0)
            goto done;
    if (start.n != n + 1 || comp.n != n || tid.n != dst.n
            || (n > 0 && L(start)[n] != dst.n) || ncomp < 0) {
        PyErr_SetString(PyExc_ValueError, "fair: the arrays' lengths do not match");
        goto done;
    }
    if (check_nodes(L(dst), dst.n, n, "fair") < 0 || check_nodes(L(comp), n, ncomp, "fair") < 0)
        goto done;
    size_t nc = (size_t)(ncomp > 0 ? ncomp : 1);
    taken = PyMem_Calloc(nc, sizeof(uint64_t));
    always = PyMem_Malloc(nc * sizeof(uint64_t));
    seen = PyMem_Calloc(nc, 1);
    if (!taken || !always || !seen) {
        PyErr_NoMemory();
        goto done;
    }
    const long *st = L(start), *d = L(dst), *cp = L(comp);
    const short *t = H(tid);
    int internal = 0;
    for (Py_ssize_t c = 0; c < ncomp; c++)
        always[c] = ~(uint64_t)0;
    for (Py_ssize_t u = 0; u < n; u++) {
        uint64_t enabled = 0;
        long c = cp[u];
        for (long k = st[u]; k < st[u + 1]; k++) {
            if (t[k] < 0 || t[k] > 63) {
                PyErr_SetString(PyExc_ValueError, "fair: a task id outside 0..63");
                goto done;
            }
            uint64_t bit = (uint64_t)1 << t[k];
            enabled |= bit;
            if (cp[d[k]] == c) {
                taken[c] |= bit;
                internal = 1;
            }
        }
        always[c] &= enabled;
    }
    out = PyList_New(0);
    if (out == NULL)
        goto done;
    for (Py_ssize_t u = 0; u < n; u++) {
        long c = cp[u];
        if (seen[c])
            continue;
        seen[c] = 1;
        if (!taken[c] || (always[c] & ~taken[c]))
            continue;
        PyObject *tasks = PyList_New(0), *item = NULL;
        for (int b = 0; tasks != NULL && b < 64; b++)
            if ((always[c] >> b) & 1) {
                PyObject *x = PyLong_FromLong(b);
                if (x == NULL || PyList_Append(tasks, x) < 0) {
                    Py_XDECREF(x);
                    Py_CLEAR(tasks);
                    break;
                }
                Py_DECREF(x);
            }
        if (tasks != NULL)
            item = Py_BuildValue("(lN)", c, tasks);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            goto done;
        }
        Py_DECREF(item);
    }
    r = Py_BuildValue("(OO)", out, internal ? Py_True : Py_False);
done:
    Py_XDECREF(out);
    PyMem_Free(taken);
    PyMem_Free(always);
    PyMem_Free(seen);
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&all[i]->b);
    return r;
}

static PyMethodDef methods[] = {
    {"csr", csr, METH_VARARGS, "liveness._csr into the given arrays."},
    {"scc", scc, METH_VARARGS, "liveness.strongly_connected into comp; the component count."},
    {"fair", fair, METH_VARARGS,
     "The components fair_cycles yields, with their tasks, and whether any cycle exists."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_liveness",
    "The compiled graph passes of khomc's termination check.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__liveness(void)
{
    return PyModule_Create(&module);
}
