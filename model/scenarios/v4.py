"""KHO v4 (Mike Rapoport's series, 20250206132754.2596694-1-rppt@kernel.org): scenarios,
bounds and the promises checked on them.

Scenario names are shared with the later eras where they mean the same thing (``test-kho``,
``fdbox-race``, ``abort-then-kexec``).  The operator follows the series' documented usage
(Documentation/kho/usage.rst of the series, kho-semantics.md §2.2): ``echo 1 >
/sys/kernel/kho/active``, then ``kexec -l ... -s`` (kexec_file_load, whose kho_fill_kimage copies
the DT), then ``kexec -e``; so in v4 ``fdbox-race`` activates BEFORE it loads, where v5 and 6.16
load first (the order v5 was designed to allow).  ``load-before-activate`` is that later order
on v4.  ``three-preservers`` is the three-client scenario every era has (issue 12 item 6): on v4
its clients are notifier users, v4 having no preservation call.  Properties are named as on v5
(:mod:`khomc.promises.v5`); ``finalize-succeeded`` is v4's activation (v5 renamed "active" to
"finalize").  Common parameters: ``pages`` (physical pages per allocating task) and ``dt_max``
(kho_out.dt_max at boot; the kernel's default is 10 MiB, the FDTs here need a few hundred
bytes).
"""

from __future__ import annotations

from khomc.scenarios.counters import count_up as _count_up, wait_for as _wait_for
from khomc.drivers import eras, fdbox_v4
from khomc.drivers import test_kho_notifier as test_kho
from khomc.drivers.test_kho_notifier import ORDERS
from khomc.kernel.alloc import PAGE_SIZE, Heap
from khomc.kernel.locking import Mutex
from khomc.runtime import Model, Scenario
from khomc.scenarios.params import declare
from khomc.runtime.effects import Update
from khomc.kho.v4 import ERA
from khomc.kho.v4 import kexec_handover as k
from khomc.kho.fdt import canonical, unflatten
from khomc.kho.v5.kexec_handover import live_at
from khomc.promises.v5 import CONVERSION, DOCS as V5_DOCS, FINALIZE_OK, KEXEC_REACHED, MEMORY_SAFETY, NO_PAGE_LOST, REVIVED

PREVIOUS = None
CHANGES = (
    "v4 (Mike Rapoport, 20250206132754.2596694-1-rppt@kernel.org, the first KHO series in "
    "kernel/kexec_handover.c, continuing Alexander Graf's v1-v3): writing 1 to "
    "/sys/kernel/kho/active takes kho_out.lock and runs kho_serialize, which kvmalloc()s "
    "dt_max bytes, starts a kho-v1 FDT in them and calls the KEXEC_KHO_DUMP notifier chain with "
    "it, so every user writes its nodes - and the mem properties that are its only way to keep "
    "memory - straight into the one shared FDT while the chain runs; writing 0 (kho_abort) "
    "frees the FDT and sends KEXEC_KHO_ABORT.  kexec_file_load copies the DT if active, so "
    "activation must come first.  dt_max is a sysfs knob written with no lock "
    "(patches -6- and -8-; Jason Gunthorpe's review, 20250210202220.GC3765641@nvidia.com).")

FDT_MAX = 1024
SMALL = 128


async def module(kho, fn, loaded, *args):
    ret = await fn(kho, *args)
    await Update(loaded, _count_up, text="module loaded")
    return ret


async def operator(kho, loaded, modules: int, steps: tuple):
    """After every module has loaded: ``active`` (sysfs), ``dt_max`` (sysfs), ``load``
    (kexec_file_load), ``kexec``, in the given order; returns every step's result."""
    await Update(loaded, _wait_for, modules, text=f"wait for {modules} modules")
    results = ()
    i = 0
    while i < len(steps):
        name, arg = steps[i]
        if name == "active":
            ret = await kho.kernel.active_store(kho, arg)
        elif name == "dt_max":
            ret = await kho.kernel.dt_max_store(kho, arg)
        elif name == "load":
            ret = await kho.kernel.kexec_file_load(kho)
        elif name == "kexec":
            ret = await kho.kernel.kernel_kexec(kho)
        else:
            raise AssertionError(f"operator: unknown step {name!r}")
        results = results + ((name, ret),)
        i += 1
    return results


async def admin(kho, val: int):
    """A second root shell: ``echo val > /sys/kernel/kho/dt_max``, at any time."""
    return await kho.kernel.dt_max_store(kho, val)


# -- properties ----------------------------------------------------------------------------------

TEST_KHO_OK = "kho-restore-succeeded"

DOCS = {
    CONVERSION:
        "The handover is race-free: the KHO DT in the image at kexec is byte for byte the FDT "
        "of the activation in effect at kexec (active = 1 succeeded and was not undone since), "
        "and without an activation in effect the image carries no KHO DT.  A failure means "
        "kexec hands over an FDT that no activation in effect produced (a stale copy after "
        "echo 0 > active).",
    NO_PAGE_LOST:
        "No handed-over page is lost: the next kernel reserves exactly the mem ranges of the "
        "FDT of the activation in effect at kexec (nothing without one), and every fd an FDBox "
        "had sealed into that FDT claims as a reserved page with the bytes the driver wrote.  "
        "A failure means memory a user handed over goes to the next kernel's allocator, or "
        "memory nobody handed over is reserved.",
    MEMORY_SAFETY:
        V5_DOCS[MEMORY_SAFETY] + "  Here also: a libfdt write past the kvmalloc'd dt_max "
        "buffer (slab-out-of-bounds), and no page of the handed-over mem ranges freed before "
        "kexec.",
    KEXEC_REACHED: "Vacuity guard: some run reaches machine_kexec.",
    FINALIZE_OK: "Vacuity guard: some run has echo 1 > /sys/kernel/kho/active succeed "
                 "(kho_out.active set and the mutex released).",
    REVIVED: "Vacuity guard: some run has the next kernel accept the KHO DT (kho-v1) and "
             "reserve its mem ranges.",
    TEST_KHO_OK: "Vacuity guard / the kernel selftest's pass line: some run's next kernel "
                 "prints \"KHO restore succeeded\" from test_kho.",
}


class Watch:
    def __init__(self, kho: k.KhoV4, boxes: tuple = (), test_kho: bool = False):
        self.kho = kho
        self.boxes = boxes
        self.test_kho = test_kho
        for _, var in boxes:
            kho.watched.append(var)


def _retrieve(nk, name):
    node = k.kho_get_node(nk, name)
    if node is None:
        return -2
    value = next((v for key, v in node.props if key == "fdt"), None)
    return int.from_bytes(value, "little") if value is not None and len(value) == 8 else -22


def next_kernel(h, watch: Watch):
    """(next kernel, test_kho result or None, every sealed FDBox record restored)."""
    nk = k.boot(h)
    boxes_ok = True
    for i, (name, _) in enumerate(watch.boxes):
        sealed, fds = h.watched[i]
        ok, _ = fdbox_v4.restore(nk, name, h.pages, fds if sealed else ())
        boxes_ok = boxes_ok and ok
    tk = test_kho.restore(nk, h.pages, k.Restorer(nk), _retrieve) if watch.test_kho else None
    return nk, tk, boxes_ok


def _promised(h) -> frozenset:
    final = h.ghost.final
    if final is None:
        return frozenset()
    tree = unflatten(final).tree
    out = set()
    for addr, size in k.mem_ranges(tree) if tree is not None else ():
        out.update(range(addr // PAGE_SIZE, (addr + size) // PAGE_SIZE))
    return frozenset(out)


def register(m, kho: k.KhoV4, watch: Watch, guards: tuple):
    def conversion(s):
        h = s[kho.handover]
        if h is None:
            return True
        blob = k.segment_blob(h.image)
        if h.ghost.final is None:
            return blob is None
        if blob != h.ghost.final:
            return False
        parsed = unflatten(blob)
        return parsed.tree is not None and \
            canonical(parsed.tree) == canonical(unflatten(h.ghost.final).tree)

    def no_page_lost(s):
        h = s[kho.handover]
        if h is None:
            return True
        nk, _, boxes_ok = next_kernel(h, watch)
        promised = _promised(h)
        if not nk.revived:
            return not promised and boxes_ok
        return nk.reserved == promised and boxes_ok

    def memory_safety(s):
        if s[kho.heap.kasan] is not None:
            return False
        h = s[kho.handover]
        return h is None or all(live_at(h.pages, pfn) for pfn in _promised(h))

    m.always(CONVERSION, conversion, DOCS[CONVERSION])
    m.always(NO_PAGE_LOST, no_page_lost, DOCS[NO_PAGE_LOST])
    m.always(MEMORY_SAFETY, memory_safety, DOCS[MEMORY_SAFETY])
    checks = {
        KEXEC_REACHED: lambda s: s[kho.handover] is not None,
        FINALIZE_OK: lambda s: s[kho.active] and s[kho.lock.var] is None,
        REVIVED: lambda s: s[kho.handover] is not None and kho.kernel.boot(s[kho.handover]).revived,
        TEST_KHO_OK: lambda s: s[kho.handover] is not None and
        next_kernel(s[kho.handover], watch)[1].message == test_kho.SUCCEEDED,
    }
    for g in guards:
        m.sometimes(g, checks[g], DOCS[g])


# -- the scenarios ------------------------------------------------------------------------------

def _machine(name: str, doc: str, pages: int, ntasks: int, dt_max: int, kernel=None):
    m = Model("v4", name, doc=doc)
    heap = Heap(m, pages, ntasks, 0)
    kho = k.KhoV4(m, heap, dt_max, kernel=kernel or ERA.namespace())
    loaded = m.var("modules_loaded", 0)
    return m, kho, loaded


ACTIVATE_LOAD_KEXEC = (("active", 1), ("load", 0), ("kexec", 0))


def _test_kho(name, doc, steps, nr_folios=1, pages=8, dt_max=FDT_MAX, kernel=None):
    m, kho, loaded = _machine(name, doc, pages, 2, dt_max, kernel)
    done = m.var("test_kho.done", False)
    m.task("test_kho", module, kho, test_kho.test_kho, loaded, eras.V4, nr_folios, ORDERS,
           False, done)
    m.task("operator", operator, kho, loaded, 1, steps)
    register(m, kho, Watch(kho, test_kho=True),
             (KEXEC_REACHED, FINALIZE_OK, REVIVED, TEST_KHO_OK))
    return m


def test_kho_scenario(nr_folios: int = 1, pages: int = 8, dt_max: int = FDT_MAX, kernel=None) -> Model:
    """lib/test_kho.c in its notifier form (through the v4 adapter): module init fills folios
    of a chosen order; echo 1 > active (DUMP writes its node with the mem ranges), load,
    kexec; the next kernel restores and checks the checksum."""
    return _test_kho("test-kho", test_kho_scenario.__doc__, ACTIVATE_LOAD_KEXEC, nr_folios,
                     pages, dt_max, kernel)


def abort_then_kexec(nr_folios: int = 1, pages: int = 8, dt_max: int = FDT_MAX, kernel=None) -> Model:
    """test_kho; activate, load, deactivate (kho_abort), kexec: the loaded image keeps its
    kvmemdup'ed copy of the aborted DT."""
    return _test_kho("abort-then-kexec", abort_then_kexec.__doc__,
                     (("active", 1), ("load", 0), ("active", 0), ("kexec", 0)), nr_folios,
                     pages, dt_max, kernel)


def _boxes(m, kho, loaded, specs):
    boxes = []
    for i, (nr, drop) in enumerate(specs):
        box = f"fdbox{i}"
        lock = Mutex.new(m, f"{box}.lock")
        state = m.var(f"{box}.state", (False, ()))
        m.task(box, fdbox_v4.fdbox, kho, box, lock, state, nr, drop, loaded)
        boxes.append((box, state))
    return tuple(boxes)


def fdbox_race(pages: int = 8, dt_max: int = FDT_MAX, kernel=None) -> Model:
    """Two FDBoxes save an fd each, the second drops it again, while the operator activates
    (their DUMP callbacks write and seal), loads and kexecs - v4's documented order."""
    m, kho, loaded = _machine("fdbox-race", fdbox_race.__doc__, pages, 3, dt_max, kernel)
    boxes = _boxes(m, kho, loaded, ((1, False), (1, True)))
    m.task("operator", operator, kho, loaded, 2, ACTIVATE_LOAD_KEXEC)
    register(m, kho, Watch(kho, boxes), (KEXEC_REACHED, FINALIZE_OK, REVIVED))
    return m


def load_before_activate(pages: int = 8, dt_max: int = FDT_MAX, kernel=None) -> Model:
    """One FDBox saves an fd while the operator loads FIRST, then activates and kexecs (the
    order v5 made legal; v4's usage says activate first)."""
    m, kho, loaded = _machine("load-before-activate", load_before_activate.__doc__, pages, 2,
                              dt_max, kernel)
    boxes = _boxes(m, kho, loaded, ((1, False),))
    m.task("operator", operator, kho, loaded, 1, (("load", 0), ("active", 1), ("kexec", 0)))
    register(m, kho, Watch(kho, boxes), (KEXEC_REACHED, FINALIZE_OK))
    return m


def dt_max_race(pages: int = 8, dt_max: int = SMALL, new_max: int = 2 * PAGE_SIZE, kernel=None) -> Model:
    """An FDBox with one fd; the operator activates, loads, kexecs while a second shell writes
    dt_max (a bigger value: the boot value is too small for the FDT, so the activation fails
    unless the write lands first)."""
    m, kho, loaded = _machine("dt-max-race", dt_max_race.__doc__, pages, 2, dt_max, kernel)
    boxes = _boxes(m, kho, loaded, ((1, False),))
    m.task("operator", operator, kho, loaded, 1, ACTIVATE_LOAD_KEXEC)
    m.task("admin", admin, kho, new_max)
    register(m, kho, Watch(kho, boxes), (KEXEC_REACHED, FINALIZE_OK, REVIVED))
    m.sometimes("activation-overflow-refused", _operator_saw(("active", -k.EINVAL)),
                doc="Vacuity guard: some run has echo 1 > active fail with -EINVAL because the "
                    "FDT did not fit in the dt_max it was created with (kho_serialize's "
                    "kho_abort() is then a no-op: active is still false).")
    return m


def _operator_saw(step):
    def check(s) -> bool:
        return s.done("operator") and step in s.result("operator")
    return check


SCENARIOS = [
    Scenario("test-kho", test_kho_scenario, {"nr_folios": 1, "pages": 8, "dt_max": FDT_MAX},
             "lib/test_kho.c (notifier form): activate, load, kexec, restore + checksum"),
    Scenario("fdbox-race", fdbox_race, {"pages": 8, "dt_max": FDT_MAX},
             "FDBox x2 save/drop an fd || activate, load, kexec"),
    Scenario("abort-then-kexec", abort_then_kexec,
             {"nr_folios": 1, "pages": 8, "dt_max": FDT_MAX},
             "test_kho; activate, load, deactivate, kexec"),
    Scenario("load-before-activate", load_before_activate, {"pages": 8, "dt_max": FDT_MAX},
             "FDBox || load, activate, kexec (operator misuse in v4)"),
    Scenario("dt-max-race", dt_max_race, {"pages": 8, "dt_max": SMALL, "new_max": 2 * PAGE_SIZE},
             "FDBox || activate, load, kexec || echo 8192 > dt_max (no lock)"),
]
SCENARIOS = declare(SCENARIOS)


# -- three interchangeable clients (issue 12 item 6; symmetry: khomc.engines.symmetry) ----------

CLIENT_COMPAT = b"kho-client-v1\0"


def client_node(folio: int) -> str:
    """The client's node: one name per instance, ``client@<unit address>`` (the devicetree
    convention), the unit address being its folio's - a name no other instance can have."""
    return f"client@{folio:x}"


def client_props(folio: int, order: int) -> tuple:
    """``compatible``, and the folio as the one ``struct kho_mem`` of its ``mem`` property."""
    return (("compatible", CLIENT_COMPAT),
            ("mem", k.kho_mem(folio, PAGE_SIZE << order)))


async def client_notifier(kho, folio: int, order: int, event, fdt) -> int:
    """The client's KEXEC_KHO_DUMP callback, in the shape of the series' users (the ftrace
    and guestmemfs notifiers of Graf's v1-v3, whose chain v4 keeps: ABORT -> NOTIFY_DONE;
    DUMP -> fdt_begin_node, the properties, fdt_end_node on the fdt passed in; NOTIFY_BAD
    on a libfdt error; any other event -> NOTIFY_BAD)."""
    from khomc.kernel.notifier import NOTIFY_BAD, NOTIFY_DONE
    if event == k.KEXEC_KHO_ABORT:
        return NOTIFY_DONE
    if event != k.KEXEC_KHO_DUMP:
        return NOTIFY_BAD
    err = await kho.kernel.kho_fdt_add_node(kho, fdt, client_node(folio),
                                            client_props(folio, order), "client_kho_notifier")
    return NOTIFY_BAD if err else NOTIFY_DONE


async def client_init(kho, orders: tuple) -> int:
    """The client's module init: one folio of a chosen order, filled, then
    register_kho_notifier - v4 has no preservation call, the folio is handed over only by
    the ``mem`` property its DUMP callback writes."""
    from khomc.drivers.common import folio_alloc_filled
    from khomc.kernel.notifier import NotifierBlock
    from khomc.runtime.effects import choose
    order = await choose(orders, "folio order")
    folio = await folio_alloc_filled(kho.heap, order, b"client", "client_init")
    if not folio:
        return -k.ENOMEM
    return await kho.kernel.register_kho_notifier(
        kho, NotifierBlock(client_node(folio), client_notifier, (kho, folio, order)))


def three_preservers(pages: int = 8, clients: int = 3, dt_max: int = FDT_MAX,
                     kernel=None) -> Model:
    """*clients* interchangeable clients (same code, same arguments) each load a module that
    allocates a folio of a chosen order (0 or 1: folios of two orders) and registers a
    KEXEC_KHO_DUMP notifier - register_kho_notifier raced between them on the chain's rwsem
    - then, once every module has loaded, the operator activates (kho_serialize runs the
    chain: each callback writes ``client@<folio> { compatible; mem = <folio>; }`` into the
    shared FDT, in registration order), loads and kexecs, v4's documented order.  Memory:
    *pages* pages per task, claimed in first-allocation order (``Heap(claim=True)``), so the
    clients are declared symmetric.  Every property HOLDS: the clients are done before the
    operator starts and the DUMP callbacks run one after another under kho_out.lock, so
    nothing is raced against the serialization (v4's own races are dt-max-race and
    abort-then-kexec).  Pins: properties/kho_eras/test_three_clients.py."""
    m = Model("v4", "three-preservers", doc=three_preservers.__doc__)
    heap = Heap(m, pages, clients + 1, 0, claim=True)
    kho = k.KhoV4(m, heap, dt_max, kernel=kernel or ERA.namespace())
    loaded = m.var("modules_loaded", 0)
    names = tuple(f"client{i}" for i in range(clients))
    for name in names:
        m.task(name, module, kho, client_init, loaded, ORDERS)
    m.task("operator", operator, kho, loaded, clients, ACTIVATE_LOAD_KEXEC)
    m.symmetric([(name, ()) for name in names])
    register(m, kho, Watch(kho), (KEXEC_REACHED, FINALIZE_OK, REVIVED))
    return m


SCENARIOS = SCENARIOS + declare([Scenario(
    "three-preservers", three_preservers, {"pages": 8, "clients": 3, "dt_max": FDT_MAX},
    "3 interchangeable clients register a DUMP notifier for an order-0/1 folio each, then "
    "activate, load, kexec")])
