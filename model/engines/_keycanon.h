/* khomc.engines._bfsloop's symmetry canon (see _keycanon.c). */
#ifndef KHOMC_KEYCANON_H
#define KHOMC_KEYCANON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The canonical key of key (new reference): compiled from view (KeyCanon.compiled_view)
   where it can be, else canon(key). */
PyObject *keycanon_call(PyObject *canon, PyObject *view, PyObject *key);

/* The compiled case alone: the canonical key, or None where KeyCanon must be called. */
PyObject *keycanon_fast(PyObject *canon, PyObject *view, PyObject *key);

#endif
