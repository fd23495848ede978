import IavfModel
import IavfTrace

/// A device's recent events for finding texts, as plain values: the checker records every
/// event here, and a copy of a `TraceEvent` (a String and an enum with arrays) costs
/// reference counting on every event, while reports read the history only at a finding.
/// Each slot holds the event's fields and up to `EventText.shown + 1` list entries (what a
/// finding's text shows, as the history always kept); strings (`at`, `reason`) and opcodes
/// are kept once in small tables. Events of rare kinds (marks, losses, caps, PF sets,
/// unknown kinds) are kept whole.
final class EventHistory {
    let depth: Int
    @exclusivity(unchecked) private(set) var count = 0
    @exclusivity(unchecked) private var next = 0
    private let slots: UnsafeMutablePointer<Slot>
    private let lists: UnsafeMutablePointer<Filter>
    private static let listRoom = EventText.shown + 1
    @exclusivity(unchecked) private var strings: [String] = []
    @exclusivity(unchecked) private var stringBits: [(UInt64, UInt64)] = []
    @exclusivity(unchecked) private var ops: [VirtchnlOp] = []
    @exclusivity(unchecked) private var rare: [Int: TraceEvent] = [:]
    private static let maxInterned = 64

    private struct Slot {
        var seq: Int64 = 0
        var tNs: Int64 = 0
        /// Snapshot: `count`; reply: `retval`.
        var value: Int64 = 0
        var key = VlanKey(vid: 0)
        var ret: Int32 = 0
        var kind = Kind.empty
        var exit = false
        var hasRet = false
        /// Index into `strings` (`at`, `reason`), or -1.
        var string: Int16 = -1
        var op: Int16 = 0
        /// List entries kept in this slot's room.
        var listCount: UInt16 = 0
    }

    private enum Kind: UInt8 {
        case addVid, killVid, send, reply, down, upComplete, open, close, reset, snapshot, settled, rare, empty
    }

    init(depth: Int) {
        self.depth = depth
        slots = .allocate(capacity: depth)
        slots.initialize(repeating: Slot(), count: depth)
        lists = .allocate(capacity: depth * Self.listRoom)
    }

    deinit {
        slots.deinitialize(count: depth)
        slots.deallocate()
        lists.deallocate()
    }

    @inline(__always)
    private func intern(_ s: String?) -> Int16? {
        guard let s else { return -1 }
        // Equal bits are the same string (the decoder hands out the same few small strings);
        // a miss still compares by value below.
        let bits = unsafeBitCast(s, to: (UInt64, UInt64).self)
        var i = 0
        while i < stringBits.count {
            if stringBits[i] == bits { return Int16(i) }
            i += 1
        }
        i = 0
        // The length first: `==` of two different small strings is a call into the runtime,
        // and every snapshot compares its `at` with the names interned before it.
        let n = s.utf8.count
        while i < strings.count {
            if strings[i].utf8.count == n && strings[i] == s { return Int16(i) }
            i += 1
        }
        guard strings.count < Self.maxInterned else { return nil }
        strings.append(s)
        stringBits.append(bits)
        return Int16(i)
    }

    @inline(__always)
    private func intern(_ op: VirtchnlOp) -> Int16? {
        var i = 0
        while i < ops.count {
            if ops[i].code == op.code && ops[i] == op { return Int16(i) }
            i += 1
        }
        guard ops.count < Self.maxInterned else { return nil }
        ops.append(op)
        return Int16(i)
    }

    func append(_ e: TraceEvent) {
        let i = next
        next = next + 1 == depth ? 0 : next + 1
        if count < depth { count += 1 }
        if slots[i].kind == .rare { rare[i] = nil }
        var s = Slot()
        s.seq = e.seq
        s.tNs = e.tNs
        switch e.body {
        case .addVid(let k, let p, let r), .killVid(let k, let p, let r):
            if case .addVid = e.body { s.kind = .addVid } else { s.kind = .killVid }
            s.key = k
            s.exit = p == .exit
            if let r { s.hasRet = true; s.ret = r }
        case .send(let op, let vids, let r):
            guard let o = intern(op) else { return keepWhole(e, at: i) }
            s.kind = .send
            s.op = o
            if let r { s.hasRet = true; s.ret = r }
            let n = min(vids.count, Self.listRoom)
            let room = lists + i * Self.listRoom
            for j in 0..<n { room[j] = Filter(key: vids[j], state: .INVALID) }
            s.listCount = UInt16(n)
        case .reply(let op, let rv):
            guard let o = intern(op) else { return keepWhole(e, at: i) }
            s.kind = .reply
            s.op = o
            s.value = Int64(rv)
        case .down(let p): s.kind = .down; s.exit = p == .exit
        case .upComplete(let p): s.kind = .upComplete; s.exit = p == .exit
        case .reset(let p): s.kind = .reset; s.exit = p == .exit
        case .open(let p, let r), .close(let p, let r):
            if case .open = e.body { s.kind = .open } else { s.kind = .close }
            s.exit = p == .exit
            if let r { s.hasRet = true; s.ret = r }
        case .snapshot(let fs, let count, let at):
            guard let a = intern(at) else { return keepWhole(e, at: i) }
            s.kind = .snapshot
            s.value = Int64(count)
            s.string = a
            let n = min(fs.count, Self.listRoom)
            if n > 0 { fs.withUnsafeBufferPointer { (lists + i * Self.listRoom).update(from: $0.baseAddress!, count: n) } }
            s.listCount = UInt16(n)
        case .settled(let reason):
            guard let r = intern(reason) else { return keepWhole(e, at: i) }
            s.kind = .settled
            s.string = r
        case .lost, .mark, .pf, .caps, .unknown:
            return keepWhole(e, at: i)
        }
        slots[i] = s
    }

    private func keepWhole(_ e: TraceEvent, at i: Int) {
        var e = e
        if case .pf(let vids, let port) = e.body, vids.count > Self.listRoom {
            e.body = .pf(vids: Array(vids.prefix(Self.listRoom)), port: port)
        } else if case .send(let op, let vids, let ret) = e.body, vids.count > Self.listRoom {
            e.body = .send(op: op, vids: Array(vids.prefix(Self.listRoom)), ret: ret)
        } else if case .snapshot(let fs, let count, let at) = e.body, fs.count > Self.listRoom {
            e.body = .snapshot(filters: Array(fs.prefix(Self.listRoom)), count: count, at: at)
        }
        rare[i] = e
        var s = Slot()
        s.seq = e.seq
        s.kind = .rare
        slots[i] = s
    }

    /// The event in slot `i`, as it was appended (lists cut to `EventText.shown + 1`).
    private func event(at i: Int, dev: String) -> TraceEvent {
        let s = slots[i]
        let phase: TraceEvent.Phase = s.exit ? .exit : .enter
        let ret: Int32? = s.hasRet ? s.ret : nil
        let room = lists + i * Self.listRoom
        let body: TraceEvent.Body
        switch s.kind {
        case .rare, .empty: return rare[i] ?? TraceEvent(seq: s.seq, tNs: s.tNs, dev: dev, .unknown(kind: "?"))
        case .addVid: body = .addVid(key: s.key, phase: phase, ret: ret)
        case .killVid: body = .killVid(key: s.key, phase: phase, ret: ret)
        case .send: body = .send(op: ops[Int(s.op)], vids: (0..<Int(s.listCount)).map { room[$0].key }, ret: ret)
        case .reply: body = .reply(op: ops[Int(s.op)], retval: Int32(s.value))
        case .down: body = .down(phase: phase)
        case .upComplete: body = .upComplete(phase: phase)
        case .open: body = .open(phase: phase, ret: ret)
        case .close: body = .close(phase: phase, ret: ret)
        case .reset: body = .reset(phase: phase)
        case .snapshot:
            body = .snapshot(filters: Array(UnsafeBufferPointer(start: room, count: Int(s.listCount))), count: Int(s.value),
                             at: s.string < 0 ? nil : strings[Int(s.string)])
        case .settled: body = .settled(reason: s.string < 0 ? nil : strings[Int(s.string)])
        }
        return TraceEvent(seq: s.seq, tNs: s.tNs, dev: dev, body)
    }

    /// Slot indices, oldest first.
    private var order: [Int] {
        count < depth ? Array(0..<count) : Array(next..<depth) + Array(0..<next)
    }

    /// The last `n` events up to and including `seq`, oldest first.
    func events(upTo seq: Int64, last n: Int, dev: String) -> [TraceEvent] {
        order.filter { slots[$0].seq <= seq }.suffix(n).map { event(at: $0, dev: dev) }
    }

    /// The event with this seq, if it is still here.
    func event(seq: Int64, dev: String) -> TraceEvent? {
        order.first { slots[$0].seq == seq }.map { event(at: $0, dev: dev) }
    }
}
