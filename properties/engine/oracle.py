"""An independent, hand-written tuple BFS of the SPIN-comparable model (spinkho).

It shares no code with khomc's runtime or engines: states are flat tuples and the transition
function is written out by hand from the Promela appendix of checker-anchors.md, at the
granularity model/examples/spinkho.py documents.  Equal state and transition counts between
the two are a differential oracle for the effect runtime, the task table and the search.
"""

from collections import deque

LOOP, AFTER_CHECK, AFTER_NOTICE, DONE = "loop", "after-check", "after-notice", "done"


def successors(s, N, K, bug):
    frozen, kexeced, ftotal, notified, items, dpcs, fin = s
    out = []
    for i in range(N):
        pc, item = dpcs[i], items[i]
        if pc == LOOP:
            if not frozen and item < K:
                if bug:
                    out.append((frozen, kexeced, ftotal, notified, items,
                                dpcs[:i] + (AFTER_CHECK,) + dpcs[i + 1:], fin))
                else:
                    out.append((frozen, kexeced, ftotal, notified,
                                items[:i] + (item + 1,) + items[i + 1:], dpcs, fin))
            if not frozen and item > 0:
                out.append((frozen, kexeced, ftotal, notified,
                            items[:i] + (item - 1,) + items[i + 1:], dpcs, fin))
            if frozen:
                out.append((frozen, kexeced, ftotal, notified, items,
                            dpcs[:i] + (AFTER_NOTICE,) + dpcs[i + 1:], fin))
        elif pc == AFTER_CHECK:
            out.append((frozen, kexeced, ftotal, notified, items[:i] + (item + 1,) + items[i + 1:],
                        dpcs[:i] + (LOOP,) + dpcs[i + 1:], fin))
        elif pc == AFTER_NOTICE:
            out.append((frozen, kexeced, ftotal, notified + 1, items,
                        dpcs[:i] + (DONE,) + dpcs[i + 1:], fin))
    kind = fin[0]
    if kind == "freeze":
        total = sum(items)
        out.append((True, kexeced, total, notified, items, dpcs, ("read", 0, 0, total)))
    elif kind == "read":
        _, j, t, snap = fin
        t += items[j]
        if j + 1 < N:
            nxt = ("read", j + 1, t, snap)
        elif t != snap:
            nxt = ("crashed", t, snap)
        else:
            nxt = ("store",)
        out.append((frozen, kexeced, ftotal, notified, items, dpcs, nxt))
    elif kind == "store":
        out.append((frozen, True, ftotal, notified, items, dpcs, ("done",)))
    return out


def explore(N, K, bug):
    init = (False, False, 0, 0, (0,) * N, (LOOP,) * N, ("freeze",))
    seen = {init}
    queue = deque([init])
    transitions = 0
    crashed = False
    while queue:
        s = queue.popleft()
        crashed |= s[6][0] == "crashed"
        succ = successors(s, N, K, bug)
        transitions += len(succ)
        for n in succ:
            if n not in seen:
                seen.add(n)
                queue.append(n)
    return len(seen), transitions, crashed
