/*
 * kho.pml - the SPIN-comparable KHO toy model, in Promela, for bench/bench_vs_spin.py.
 *
 * N drivers add (up to K) and remove preserved items while the state is not frozen; once it is
 * frozen each driver's notifier observes the freeze (notified++) and the driver stops.  The
 * finalizer freezes and snapshots the total in one atomic block, re-sums the items one read at a
 * time, asserts that the re-sum equals the snapshot, and kexecs.  With BUG=1 a driver's
 * check-then-add is two statements (a TOCTOU on frozen), so an add can land after the freeze and
 * the assertion fails.  Semantics of the kho.pml appendix of
 * shared/reference/checker-anchors.md.
 *
 *   spin -DN=4 -DK=6 [-DBUG=1] [-DSTEPS=1] -a kho.pml
 *   gcc -O2 -DSAFETY [-DNOREDUCE] -o pan pan.c && ./pan -m1000000 -w24
 *
 * Two granularities of the same semantics:
 *
 *   STEPS=0 (default)  the appendix's: one Promela statement per step, processes started by
 *                      init, the finalizer's sums written as inline do-loops (guard, add and
 *                      j++ are separate statements in the re-sum), processes that end are
 *                      removed.  State counts are those of checker-anchors.md §3a.
 *   STEPS=1            khomc's (model/examples/spinkho.py): every process exists in the
 *                      initial state (active proctypes, no init), each driver alternative is one
 *                      d_step (or, with BUG, the bare guard then the increment), the freeze and
 *                      snapshot is one d_step, each read of the re-sum is one d_step (the last
 *                      one carries the assertion), and the finalizer never terminates (it parks
 *                      at an end label), so no process is ever removed.  With -DNOREDUCE the
 *                      stored states equal khomc's distinct states.
 */

#ifndef N
#define N 3
#endif
#ifndef K
#define K 3
#endif
#ifndef BUG
#define BUG 0
#endif
#ifndef STEPS
#define STEPS 0
#endif

bool frozen = false;
bool kexeced = false;
byte items[N];
byte frozen_total = 0;
byte notified = 0;

#if STEPS == 0

/* t := items[0] + ... + items[N-1], one statement at a time */
inline sum_items(t, j)
{
	t = 0;
	j = 0;
	do
	:: j < N -> t = t + items[j]; j++
	:: else -> break
	od
}

proctype driver(byte id)
{
	do
#if BUG
	:: !frozen && items[id] < K ->		/* check ...            */
		items[id]++			/* ... then act: TOCTOU */
#else
	:: atomic { !frozen && items[id] < K -> items[id]++ }
#endif
	:: atomic { !frozen && items[id] > 0 -> items[id]-- }
	:: frozen -> notified++; break		/* the notifier sees the freeze */
	od
}

proctype finalizer()
{
	byte t, j;
	atomic { frozen = true; sum_items(t, j); frozen_total = t };
	sum_items(t, j);
	assert(t == frozen_total);
	kexeced = true
}

init
{
	byte i;
	atomic {
		i = 0;
		do
		:: i < N -> run driver(i); i++
		:: else -> break
		od;
		run finalizer()
	}
}

#else /* STEPS == 1: khomc's step granularity */

active [N] proctype driver()		/* declared first: _pid is 0 .. N-1 */
{
	do
#if BUG
	:: !frozen && items[_pid] < K ->
		items[_pid]++
#else
	:: d_step { !frozen && items[_pid] < K -> items[_pid]++ }
#endif
	:: d_step { !frozen && items[_pid] > 0 -> items[_pid]-- }
	:: frozen -> notified++; break
	od
}

active proctype finalizer()
{
	byte t, j;
	d_step {
		frozen = true;
		t = 0;
		j = 0;
		do
		:: j < N -> t = t + items[j]; j++
		:: else -> break
		od;
		frozen_total = t;
		t = 0;
		j = 0
	};
	do
	:: d_step { j < N - 1 -> t = t + items[j]; j++ }
	:: d_step { j == N - 1 -> t = t + items[j]; j++; assert(t == frozen_total) }; break
	od;
	kexeced = true;
end_parked:
	false				/* never removed: khomc keeps finished tasks */
}

#endif
