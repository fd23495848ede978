import IavfModel

/// The fast path of `EventDecoder.event`: a line laid out exactly as `TraceWriter` writes it
/// (its key order, no whitespace, no escapes, plain decimal numbers) is decoded in one pass
/// with no allocation but the event's own lists. Anything else (another key order, a field
/// this path does not know, a value out of range, an error) returns nil and the line goes
/// through the general decoder, which accepts or refuses it with the same result it always
/// gave: the fast path only ever accepts lines the general one decodes to the same event.
struct FastCursor {
    var p: UnsafePointer<UInt8>
    let end: UnsafePointer<UInt8>

    /// Matches a literal: eight bytes a compare (`n` is a constant where this is inlined).
    @inline(__always)
    mutating func lit(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard end - p >= n else { return false }
        guard bytesEqual(UnsafeRawPointer(p), UnsafeRawPointer(s.utf8Start), n) else { return false }
        p += n
        return true
    }

    @inline(__always)
    mutating func byte(_ c: UInt8) -> Bool {
        guard p < end, p.pointee == c else { return false }
        p += 1
        return true
    }

    @inline(__always)
    func peek(_ c: UInt8) -> Bool { p < end && p.pointee == c }

    /// 1 to 18 decimal digits (what the general scanner reads without an overflow check),
    /// not followed by another digit, a fraction or an exponent.
    ///
    /// A non-digit always comes before `end` is passed (a line's last byte is '}', which
    /// `fastEvent` checks first; the reader's buffer has a 0 byte after its data), so the loop
    /// needs no bound check. Past 18 digits the value may wrap: it is then refused.
    @inline(__always)
    mutating func uint() -> Int64? {
        var q = p
        var v: UInt64 = 0
        while true {
            let d = q.pointee &- 0x30
            if d > 9 { break }
            v = v &* 10 &+ UInt64(d)
            q += 1
        }
        return finishUInt(q, v)
    }

    @inline(__always)
    private mutating func finishUInt(_ q: UnsafePointer<UInt8>, _ v: UInt64) -> Int64? {
        let n = q - p
        guard n > 0, n <= 18 else { return nil }
        let c = q.pointee
        if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return nil }
        p = q
        return Int64(v)
    }

    /// A TPID: 33024 (0x8100, nearly every one) by one compare, else as `uint`.
    @inline(__always)
    mutating func tpid() -> Int64? {
        if end - p >= 6, bytesEqual(UnsafeRawPointer(p), UnsafeRawPointer(("33024" as StaticString).utf8Start), 5),
           p[5] &- 0x30 > 9, p[5] != UInt8(ascii: "."), p[5] != UInt8(ascii: "e"), p[5] != UInt8(ascii: "E") {
            p += 5
            return 33024
        }
        return uint()
    }

    @inline(__always)
    mutating func int() -> Int64? {
        if byte(UInt8(ascii: "-")) { return uint().map { -$0 } }
        return uint()
    }

    /// The bytes of a string whose opening quote is consumed, up to its closing quote
    /// (consumed too). Nil on an escape, a control character or a byte past ASCII (those
    /// need the general path's checks and decoding).
    @inline(__always)
    mutating func asciiString() -> UnsafeBufferPointer<UInt8>? {
        var q = p
        while q < end {
            let c = q.pointee
            if c == 0x22 {
                let s = UnsafeBufferPointer(start: p, count: q - p)
                p = q + 1
                return s
            }
            if c == 0x5C || c < 0x20 || c >= 0x80 { return nil }
            q += 1
        }
        return nil
    }
}

/// Whether `n` bytes at `a` and `b` are equal, compared a word at a time.
@inline(__always)
func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    if i + 4 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt32.self) != b.loadUnaligned(fromByteOffset: i, as: UInt32.self) { return false }
        i += 4
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

@inline(__always)
private func eq(_ s: UnsafeBufferPointer<UInt8>, _ t: StaticString) -> Bool {
    let n = t.utf8CodeUnitCount
    guard s.count == n else { return false }
    let a = s.baseAddress!, b = t.utf8Start
    var i = 0
    while i < n { if a[i] != b[i] { return false }; i += 1 }
    return true
}

/// Strings a trace repeats on most lines (`dev`, `at`, `reason`), kept as the String made
/// the first time: a line that repeats one costs a compare, not a validation and a copy.
final class StringInterner {
    private static let maxEntries = 32
    private static let maxLength = 64
    private var bytes: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var lengths: [Int] = []
    @exclusivity(unchecked) private var strings: [String] = []

    init() {
        bytes = .allocate(capacity: Self.maxEntries * Self.maxLength)
    }

    deinit { bytes.deallocate() }

    /// The string at the cursor (its opening quote consumed) when it is one already kept:
    /// its bytes and then the closing quote (kept strings hold no quote). Consumes both.
    @inline(__always)
    func match(_ c: inout FastCursor) -> String? {
        let avail = c.end - c.p
        var i = 0
        while i < lengths.count {
            let n = lengths[i]
            if n < avail, c.p[n] == 0x22, bytesEqual(UnsafeRawPointer(c.p), UnsafeRawPointer(bytes + i * Self.maxLength), n) {
                c.p += n + 1
                return strings[i]
            }
            i += 1
        }
        return nil
    }

    /// A kept string, else the string at the cursor as `asciiString` reads it (kept for next time).
    @inline(__always)
    func read(_ c: inout FastCursor) -> String? {
        if let v = match(&c) { return v }
        guard let s = c.asciiString() else { return nil }
        return string(s)
    }

    /// The String of these (ASCII) bytes.
    func string(_ s: UnsafeBufferPointer<UInt8>) -> String {
        let n = s.count
        var i = 0
        while i < lengths.count {
            if lengths[i] == n, bytesEqual(UnsafeRawPointer(bytes + i * Self.maxLength), UnsafeRawPointer(s.baseAddress!), n) { return strings[i] }
            i += 1
        }
        let v = String(decoding: s, as: UTF8.self)
        if n <= Self.maxLength, lengths.count < Self.maxEntries {
            (bytes + lengths.count * Self.maxLength).update(from: s.baseAddress!, count: n)
            lengths.append(n)
            strings.append(v)
        }
        return v
    }
}

protocol ListElement: Equatable {
    /// The element's fields as one number, for `ListCache`'s hash.
    var code: UInt64 { get }
}

extension Filter: ListElement {
    @inline(__always) var code: UInt64 { UInt64(key.vid) | UInt64(key.tpid) << 16 | UInt64(state.ordinal) << 32 }
}

extension VlanKey: ListElement {
    @inline(__always) var code: UInt64 { UInt64(vid) | UInt64(tpid) << 16 }
}

/// Short lists as the arrays made for them before: a trace repeats the same few lists
/// (a device's filter list changes a state at a time and comes back to where it was), and
/// an array costs its allocation and release (with a type look-up each) on every event.
/// Direct-mapped by a hash of the contents, each hit checked element by element.
final class ListCache<T: ListElement> {
    private static var slots: Int { 64 }
    /// Longer lists are made every time.
    private static var maxCached: Int { 64 }
    @exclusivity(unchecked) private var arrays: [[T]]

    init() { arrays = Array(repeating: [], count: Self.slots) }

    func forget() { for i in arrays.indices { arrays[i] = [] } }

    @inline(__always)
    func array(_ p: UnsafePointer<T>, _ n: Int) -> [T] {
        guard n > 0 else { return [] }
        guard n <= Self.maxCached else { return Array(UnsafeBufferPointer(start: p, count: n)) }
        var h: UInt64 = 0xcbf29ce484222325
        for i in 0..<n { h = (h ^ p[i].code) &* 0x100000001b3 }
        let slot = Int(truncatingIfNeeded: (h ^ (h >> 29)) & UInt64(Self.slots - 1))
        let hit = arrays[slot].withUnsafeBufferPointer { a in
            guard a.count == n else { return false }
            for i in 0..<n where a[i] != p[i] { return false }
            return true
        }
        if hit { return arrays[slot] }
        let a = Array(UnsafeBufferPointer(start: p, count: n))
        arrays[slot] = a
        return a
    }
}

/// Filter lists by their bytes in the line. A trace repeats a few lists (see `ListCache`), and
/// a snapshot's list is most of its line: when the bytes between `[` and `]` are the same as
/// those of a list decoded before, that list is the answer, for the price of a hash and a
/// compare instead of a parse of every entry. Only lists the fast path decoded whole are
/// kept, so a hit gives exactly what decoding the same bytes again would.
final class RawListMemo<T> {
    private static var slots: Int { 64 }
    /// Longer lists (about 100 filters) are parsed every time.
    static var maxBytes: Int { 4096 }
    private let bytes: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var lengths: [Int]
    @exclusivity(unchecked) private var lists: [[T]]

    init() {
        bytes = .allocate(capacity: Self.slots * Self.maxBytes)
        lengths = Array(repeating: -1, count: Self.slots)
        lists = Array(repeating: [], count: Self.slots)
    }

    deinit { bytes.deallocate() }

    func forget() {
        for i in lengths.indices { lengths[i] = -1; lists[i] = [] }
    }

    /// The slot of `n` (8 to `maxBytes`) bytes: their words rotated and mixed, the last word
    /// read where it ends (it may overlap the one before).
    @inline(__always)
    func slot(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        let raw = UnsafeRawPointer(p)
        var h = UInt64(truncatingIfNeeded: n)
        var i = 0
        while i + 8 <= n {
            h = ((h << 5) | (h >> 59)) ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        h = ((h << 5) | (h >> 59)) ^ raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        h = (h ^ (h >> 31)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h >> 58)   // 64 slots
    }

    /// The list kept in `slot` when its bytes are these.
    @inline(__always)
    func list(_ slot: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> [T]? {
        guard lengths[slot] == n, memcmp(bytes + slot * Self.maxBytes, p, n) == 0 else { return nil }
        return lists[slot]
    }

    func keep(_ slot: Int, _ p: UnsafePointer<UInt8>, _ n: Int, _ list: [T]) {
        (bytes + slot * Self.maxBytes).update(from: p, count: n)
        lengths[slot] = n
        lists[slot] = list
    }
}

/// Room for one event's list while it is decoded, so the event's array is made once at its size.
final class ListScratch {
    let filters: UnsafeMutablePointer<Filter>
    let keys: UnsafeMutablePointer<VlanKey>
    let filterLists = ListCache<Filter>()
    let keyLists = ListCache<VlanKey>()
    let rawFilterLists = RawListMemo<Filter>()

    init() {
        filters = .allocate(capacity: TraceEvent.maxListEntries)
        keys = .allocate(capacity: TraceEvent.maxListEntries)
    }

    deinit {
        filters.deallocate()
        keys.deallocate()
    }

    func forget() {
        filterLists.forget()
        keyLists.forget()
        rawFilterLists.forget()
    }
}

extension EventDecoder {
    /// The event of a line in the writer's layout, or nil (then the general path decides).
    func fastEvent(_ line: UnsafeRawBufferPointer) -> TraceEvent? {
        // The closing brace last: number runs end inside the line (see `uint`).
        guard let base = line.baseAddress, line.count > 0, line[line.count - 1] == UInt8(ascii: "}") else { return nil }
        let start = base.assumingMemoryBound(to: UInt8.self)
        // The object ends the line: nothing after it, not even whitespace (the general path
        // takes that).
        return withUnsafeTemporaryAllocation(of: TraceEvent.self, capacity: 1) { buf -> TraceEvent? in
            let out = buf.baseAddress!
            guard let after = fastEvent(from: start, limit: start + line.count, into: out) else { return nil }
            let e = out.move()
            return after == start + line.count ? e : nil
        }
    }

    /// The event of a line in the writer's layout starting at `start`, read straight from the
    /// reader's buffer (no search for the line's end first), and the byte after the line: a
    /// newline must follow the object. Nil when the line is not one the fast path takes, or
    /// not whole before `limit`; the reader then finds the line and decides as for any other.
    /// A byte at `limit` must be readable and not a digit (see `uint`).
    // `mutating` only so that the reader calls it on its decoder in place: a copy of the
    // decoder would retain and release its buffers on every line.
    ///
    /// The event is made in `out` (left uninitialized on nil): returned, it would be copied
    /// through the stack several times, and those copies (stores and loads of different
    /// sizes) stalled the decoding thread more than the parse of a short line costs.
    mutating func fastLine(from start: UnsafePointer<UInt8>, limit: UnsafePointer<UInt8>,
                           into out: UnsafeMutablePointer<TraceEvent>) -> UnsafePointer<UInt8>? {
        guard let after = fastEvent(from: start, limit: limit, into: out) else { return nil }
        guard after < limit, after.pointee == 0x0a else { out.deinitialize(count: 1); return nil }
        return after
    }

    /// The object at `start`, and the byte after its closing brace. No string, number or
    /// literal it accepts holds a newline, so it never reads one line into the next.
    @inline(__always)
    private func fastEvent(from start: UnsafePointer<UInt8>, limit: UnsafePointer<UInt8>,
                           into out: UnsafeMutablePointer<TraceEvent>) -> UnsafePointer<UInt8>? {
        var c = FastCursor(p: start, end: limit)
        guard c.lit(#"{"seq":"#), let seq = c.uint(),
              c.lit(#","t_ns":"#), let tNs = c.uint(),
              c.lit(#","dev":""#), let dev = interner.read(&c),
              c.lit(#","ev":""#)
        else { return nil }
        let body: TraceEvent.Body
        let kind: FastKind
        // Most frequent first; each name with its closing quote.
        if c.lit(#"snapshot""#) { kind = .snapshot }
        else if c.lit(#"add_vid""#) { kind = .addVid }
        else if c.lit(#"kill_vid""#) { kind = .killVid }
        else if c.lit(#"settled""#) { kind = .settled }
        else if c.lit(#"send""#) { kind = .send }
        else if c.lit(#"reply""#) { kind = .reply }
        else if c.lit(#"down""#) { kind = .down }
        else if c.lit(#"open""#) { kind = .open }
        else if c.lit(#"close""#) { kind = .close }
        else if c.lit(#"up_complete""#) { kind = .upComplete }
        else if c.lit(#"reset""#) { kind = .reset }
        else { return nil }
        switch kind {
        case .addVid, .killVid:
            guard c.lit(#","vid":"#), let vid = c.uint(), vid <= 4095,
                  c.lit(#","tpid":"#), let tpid = c.tpid(), tpid <= 0xffff,
                  let p = Self.phase(&c)
            else { return nil }
            var ret: Int32?
            if c.lit(#","ret":"#) {
                guard let r = c.int(), r >= -4095, r <= 4095 else { return nil }
                ret = Int32(r)
            } else if p == .exit {
                return nil
            }
            let key = VlanKey(vid: UInt16(vid), tpid: UInt16(tpid))
            body = kind == .addVid ? .addVid(key: key, phase: p, ret: ret) : .killVid(key: key, phase: p, ret: ret)
        case .snapshot:
            guard c.lit(#","filters":["#) else { return nil }
            // The list's bytes through its ']' (an entry holds none), if it is one seen before
            // (a ']' found past the line's end spans a newline, which no kept list holds).
            let listStart = c.p
            var memoSlot = -1, listBytes = 0
            if let close = memchr(listStart, Int32(UInt8(ascii: "]")), c.end - listStart) {
                listBytes = UnsafeRawPointer(close) - UnsafeRawPointer(listStart) + 1
                if listBytes >= 8 && listBytes <= RawListMemo<Filter>.maxBytes {
                    memoSlot = scratch.rawFilterLists.slot(listStart, listBytes)
                }
            }
            let filters: [Filter]
            if memoSlot >= 0, let known = scratch.rawFilterLists.list(memoSlot, listStart, listBytes) {
                filters = known
                c.p = listStart + listBytes
            } else {
                let out = scratch.filters
                var n = 0
                if !c.byte(UInt8(ascii: "]")) {
                    while true {
                        guard n < TraceEvent.maxListEntries,
                              c.lit(#"{"vid":"#), let vid = c.uint(), vid <= 4095,
                              c.lit(#","tpid":"#), let tpid = c.tpid(), tpid <= 0xffff,
                              c.lit(#","state":""#), let state = Self.state(&c)
                        else { return nil }
                        out[n] = Filter(key: VlanKey(vid: UInt16(vid), tpid: UInt16(tpid)), state: state)
                        n += 1
                        if c.byte(UInt8(ascii: "]")) { break }
                        guard c.byte(UInt8(ascii: ",")) else { return nil }
                    }
                }
                filters = scratch.filterLists.array(out, n)
                if memoSlot >= 0 && c.p == listStart + listBytes {
                    scratch.rawFilterLists.keep(memoSlot, listStart, listBytes, filters)
                }
            }
            guard c.lit(#","count":"#), let count = c.uint(), count <= Int64(Int32.max) else { return nil }
            var at: String?
            if c.lit(#","at":""#) {
                guard let a = interner.read(&c) else { return nil }
                at = a
            }
            body = .snapshot(filters: filters, count: Int(count), at: at)
        case .send:
            guard c.lit(#","op":""#), let o = c.asciiString(), let op = Self.op(o),
                  c.lit(#","vids":["#)
            else { return nil }
            let out = scratch.keys
            var n = 0
            if !c.byte(UInt8(ascii: "]")) {
                while true {
                    guard n < TraceEvent.maxListEntries,
                          c.byte(UInt8(ascii: "[")), let vid = c.uint(), vid <= 4095,
                          c.byte(UInt8(ascii: ",")), let tpid = c.tpid(), tpid <= 0xffff,
                          c.byte(UInt8(ascii: "]"))
                    else { return nil }
                    out[n] = VlanKey(vid: UInt16(vid), tpid: UInt16(tpid))
                    n += 1
                    if c.byte(UInt8(ascii: "]")) { break }
                    guard c.byte(UInt8(ascii: ",")) else { return nil }
                }
            }
            var ret: Int32?
            if c.lit(#","ret":"#) {
                guard let r = c.int(), r >= -4095, r <= 4095 else { return nil }
                ret = Int32(r)
            }
            body = .send(op: op, vids: scratch.keyLists.array(out, n), ret: ret)
        case .reply:
            guard c.lit(#","op":""#), let o = c.asciiString(), let op = Self.op(o),
                  c.lit(#","retval":"#), let r = c.int(), r >= Int64(Int32.min), r <= Int64(Int32.max)
            else { return nil }
            body = .reply(op: op, retval: Int32(r))
        case .settled:
            var reason: String?
            if c.lit(#","reason":""#) {
                guard let r = interner.read(&c) else { return nil }
                reason = r
            }
            body = .settled(reason: reason)
        case .down:
            guard let p = Self.phase(&c) else { return nil }
            body = .down(phase: p)
        case .upComplete:
            guard let p = Self.phase(&c) else { return nil }
            body = .upComplete(phase: p)
        case .reset:
            guard let p = Self.phase(&c) else { return nil }
            body = .reset(phase: p)
        case .open, .close:
            guard let p = Self.phase(&c) else { return nil }
            var ret: Int32?
            if c.lit(#","ret":"#) {
                guard let r = c.int(), r >= -4095, r <= 4095 else { return nil }
                ret = Int32(r)
            } else if p == .exit {
                return nil
            }
            body = kind == .open ? .open(phase: p, ret: ret) : .close(phase: p, ret: ret)
        }
        guard c.byte(UInt8(ascii: "}")) else { return nil }
        out.initialize(to: TraceEvent(seq: seq, tNs: tNs, dev: dev, body))
        return c.p
    }

    @inline(__always)
    private static func phase(_ c: inout FastCursor) -> TraceEvent.Phase? {
        if c.lit(#","phase":"enter""#) { return .enter }
        if c.lit(#","phase":"exit""#) { return .exit }
        return nil
    }

    /// A filter's state name, its closing quote and the entry's closing brace.
    @inline(__always)
    private static func state(_ c: inout FastCursor) -> FilterState? {
        if c.lit(#"ACTIVE"}"#) { return .ACTIVE }
        if c.lit(#"ADD"}"#) { return .ADD }
        if c.lit(#"REMOVE"}"#) { return .REMOVE }
        if c.lit(#"ADDING"}"#) { return .ADDING }
        if c.lit(#"REMOVING"}"#) { return .REMOVING }
        if c.lit(#"IS_NEW"}"#) { return .IS_NEW }
        if c.lit(#"DISABLE"}"#) { return .DISABLE }
        if c.lit(#"INACTIVE"}"#) { return .INACTIVE }
        if c.lit(#"INVALID"}"#) { return .INVALID }
        return nil
    }

    private enum FastKind { case addVid, killVid, snapshot, send, reply, settled, down, upComplete, open, close, reset }

    /// The VLAN opcodes; the rest go the general way (`VirtchnlOp.named`).
    @inline(__always)
    private static func op(_ s: UnsafeBufferPointer<UInt8>) -> VirtchnlOp? {
        switch s.count {
        case 11:
            if eq(s, "ADD_VLAN_V2") { return .addVlanV2 }
            if eq(s, "DEL_VLAN_V2") { return .delVlanV2 }
        case 8:
            if eq(s, "ADD_VLAN") { return .addVlan }
            if eq(s, "DEL_VLAN") { return .delVlan }
        default: break
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
