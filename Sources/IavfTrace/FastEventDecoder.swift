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

    @inline(__always)
    mutating func lit(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard end - p >= n else { return false }
        let b = s.utf8Start
        var i = 0
        while i < n { if p[i] != b[i] { return false }; i += 1 }
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
    @inline(__always)
    mutating func uint() -> Int64? {
        var q = p
        var v: Int64 = 0
        while q < end {
            let d = q.pointee &- 0x30
            if d > 9 { break }
            if q - p == 18 { return nil }
            v = v &* 10 &+ Int64(d)
            q += 1
        }
        guard q > p else { return nil }
        if q < end {
            let c = q.pointee
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return nil }
        }
        p = q
        return v
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

    /// The String of these (ASCII) bytes.
    @inline(__always)
    func string(_ s: UnsafeBufferPointer<UInt8>) -> String {
        let n = s.count
        var i = 0
        while i < lengths.count {
            if lengths[i] == n, memcmp(bytes + i * Self.maxLength, s.baseAddress!, n) == 0 { return strings[i] }
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

/// Room for one event's list while it is decoded, so the event's array is made once at its size.
final class ListScratch {
    let filters: UnsafeMutablePointer<Filter>
    let keys: UnsafeMutablePointer<VlanKey>

    init() {
        filters = .allocate(capacity: TraceEvent.maxListEntries)
        keys = .allocate(capacity: TraceEvent.maxListEntries)
    }

    deinit {
        filters.deallocate()
        keys.deallocate()
    }
}

extension EventDecoder {
    /// The event of a line in the writer's layout, or nil (then the general path decides).
    func fastEvent(_ line: UnsafeRawBufferPointer) -> TraceEvent? {
        guard let base = line.baseAddress, line.count > 0 else { return nil }
        let start = base.assumingMemoryBound(to: UInt8.self)
        var c = FastCursor(p: start, end: start + line.count)
        guard c.lit(#"{"seq":"#), let seq = c.uint(),
              c.lit(#","t_ns":"#), let tNs = c.uint(),
              c.lit(#","dev":""#), let devBytes = c.asciiString(),
              c.lit(#","ev":""#), let kind = c.asciiString()
        else { return nil }
        let body: TraceEvent.Body
        switch kind.count {
        case 7 where eq(kind, "add_vid"), 8 where eq(kind, "kill_vid"):
            guard c.lit(#","vid":"#), let vid = c.uint(), vid <= 4095,
                  c.lit(#","tpid":"#), let tpid = c.uint(), tpid <= 0xffff,
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
            body = kind.count == 7 ? .addVid(key: key, phase: p, ret: ret) : .killVid(key: key, phase: p, ret: ret)
        case 8 where eq(kind, "snapshot"):
            guard c.lit(#","filters":["#) else { return nil }
            let out = scratch.filters
            var n = 0
            if !c.byte(UInt8(ascii: "]")) {
                while true {
                    guard n < TraceEvent.maxListEntries,
                          c.lit(#"{"vid":"#), let vid = c.uint(), vid <= 4095,
                          c.lit(#","tpid":"#), let tpid = c.uint(), tpid <= 0xffff,
                          c.lit(#","state":""#), let s = c.asciiString(), let state = Self.state(s),
                          c.byte(UInt8(ascii: "}"))
                    else { return nil }
                    out[n] = Filter(key: VlanKey(vid: UInt16(vid), tpid: UInt16(tpid)), state: state)
                    n += 1
                    if c.byte(UInt8(ascii: "]")) { break }
                    guard c.byte(UInt8(ascii: ",")) else { return nil }
                }
            }
            guard c.lit(#","count":"#), let count = c.uint(), count <= Int64(Int32.max) else { return nil }
            var at: String?
            if c.lit(#","at":""#) {
                guard let a = c.asciiString() else { return nil }
                at = interner.string(a)
            }
            let filters = Array(UnsafeBufferPointer(start: out, count: n))
            body = .snapshot(filters: filters, count: Int(count), at: at)
        case 4 where eq(kind, "send"):
            guard c.lit(#","op":""#), let o = c.asciiString(), let op = Self.op(o),
                  c.lit(#","vids":["#)
            else { return nil }
            let out = scratch.keys
            var n = 0
            if !c.byte(UInt8(ascii: "]")) {
                while true {
                    guard n < TraceEvent.maxListEntries,
                          c.byte(UInt8(ascii: "[")), let vid = c.uint(), vid <= 4095,
                          c.byte(UInt8(ascii: ",")), let tpid = c.uint(), tpid <= 0xffff,
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
            body = .send(op: op, vids: Array(UnsafeBufferPointer(start: out, count: n)), ret: ret)
        case 5 where eq(kind, "reply"):
            guard c.lit(#","op":""#), let o = c.asciiString(), let op = Self.op(o),
                  c.lit(#","retval":"#), let r = c.int(), r >= Int64(Int32.min), r <= Int64(Int32.max)
            else { return nil }
            body = .reply(op: op, retval: Int32(r))
        case 7 where eq(kind, "settled"):
            var reason: String?
            if c.lit(#","reason":""#) {
                guard let r = c.asciiString() else { return nil }
                reason = interner.string(r)
            }
            body = .settled(reason: reason)
        case 4 where eq(kind, "down"):
            guard let p = Self.phase(&c) else { return nil }
            body = .down(phase: p)
        case 11 where eq(kind, "up_complete"):
            guard let p = Self.phase(&c) else { return nil }
            body = .upComplete(phase: p)
        case 5 where eq(kind, "reset"):
            guard let p = Self.phase(&c) else { return nil }
            body = .reset(phase: p)
        case 4 where eq(kind, "open"), 5 where eq(kind, "close"):
            guard let p = Self.phase(&c) else { return nil }
            var ret: Int32?
            if c.lit(#","ret":"#) {
                guard let r = c.int(), r >= -4095, r <= 4095 else { return nil }
                ret = Int32(r)
            } else if p == .exit {
                return nil
            }
            body = kind.count == 4 ? .open(phase: p, ret: ret) : .close(phase: p, ret: ret)
        default:
            return nil
        }
        // The object ends the line: nothing after it, not even whitespace (the general path
        // takes that).
        guard c.byte(UInt8(ascii: "}")), c.p == c.end else { return nil }
        return TraceEvent(seq: seq, tNs: tNs, dev: interner.string(devBytes), body)
    }

    @inline(__always)
    private static func phase(_ c: inout FastCursor) -> TraceEvent.Phase? {
        if c.lit(#","phase":"enter""#) { return .enter }
        if c.lit(#","phase":"exit""#) { return .exit }
        return nil
    }

    @inline(__always)
    private static func state(_ s: UnsafeBufferPointer<UInt8>) -> FilterState? {
        switch s.count {
        case 6:
            if eq(s, "ACTIVE") { return .ACTIVE }
            if eq(s, "ADDING") { return .ADDING }
            if eq(s, "IS_NEW") { return .IS_NEW }
            if eq(s, "REMOVE") { return .REMOVE }
        case 3: if eq(s, "ADD") { return .ADD }
        case 8:
            if eq(s, "REMOVING") { return .REMOVING }
            if eq(s, "INACTIVE") { return .INACTIVE }
        case 7:
            if eq(s, "DISABLE") { return .DISABLE }
            if eq(s, "INVALID") { return .INVALID }
        default: break
        }
        return nil
    }

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
