/* khomc.engines._bfsloop.Visited - the fast BFS's visited table (see _visited.c). */
#ifndef KHOMC_VISITED_H
#define KHOMC_VISITED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef struct {
    uint64_t h;                   /* the key's hash (visited_hash) */
    PyObject *key, *val;          /* key NULL: an empty entry */
} VisitedEntry;

typedef struct {
    PyObject_HEAD
    VisitedEntry *tab;
    Py_ssize_t mask;              /* capacity - 1, the capacity a power of two */
    Py_ssize_t used;
} VisitedObject;

extern PyTypeObject Visited_Type;
#define Visited_Check(o) Py_IS_TYPE((o), &Visited_Type)

/* Where a task's local ids start among the positions of visited_mix. */
#define VISITED_LOCS ((uint64_t)1 << 32)

/* the hash of the value v at position pos of an interned key */
static inline uint64_t
visited_mix(uint64_t pos, uint64_t v)
{
    uint64_t x = v * 0x9E3779B97F4A7C15ULL ^ (pos * 0xC2B2AE3D27D4EB4FULL + 0x165667B19E3779F9ULL);
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* 1 and *v when o is an int that fits 64 bits, 0 when it is not, -1 on an error */
int visited_int(PyObject *o, uint64_t *v);

/* The hash of an interned key (value ids, task locals) given as its two tuples: 1 when
   every part is an int (the incremental hash: the XOR of visited_mix over the positions),
   0 when some part is not (*h undefined: use visited_hash on the whole key), -1 on an
   error. */
int visited_hash_parts(PyObject *wk, PyObject *locs, uint64_t *h);

/* The hash of any key: visited_hash_parts's when the key is such a pair, else Python's
   hash, mixed.  0, or -1 on an error. */
int visited_hash(PyObject *key, uint64_t *h);

/* The value of key (borrowed), NULL when absent (no error set) or on an error. */
PyObject *visited_get_h(VisitedObject *v, PyObject *key, uint64_t h);
PyObject *visited_get(VisitedObject *v, PyObject *key);

/* dict.setdefault: the value kept (borrowed), NULL on an error. */
PyObject *visited_setdefault_h(VisitedObject *v, PyObject *key, PyObject *val, uint64_t h);
PyObject *visited_setdefault(VisitedObject *v, PyObject *key, PyObject *val);

int visited_set(VisitedObject *v, PyObject *key, PyObject *val);

/* The value of the key ((wk[0..n) with the ids of exp), locs with locs[tid] = lid2), of
   hash h, without building it: exp holds the n expected value ids.  Borrowed; NULL when
   absent (no error set) or on an error. */
PyObject *visited_get_step(VisitedObject *v, uint64_t h, PyObject *const *exp, Py_ssize_t n,
                           PyObject *locs, Py_ssize_t tid, PyObject *lid2);

#endif
