import IavfSystem
import CZlib
import IavfModel

public struct TraceWriteError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Writes a trace in the contract's JSON Lines; gzip when the path ends in `.gz`.
/// "-" writes to standard output.
public final class TraceWriter {
    public let path: String
    private var file: gzFile?
    private var out: [UInt8] = []
    private let flushAt = 1 << 16

    public init(path: String, header: TraceHeader) throws {
        self.path = path
        let mode = path.hasSuffix(".gz") ? "wb6" : "wbT"
        file = path == "-" ? gzdopen(dup(1), mode) : gzopen(path, mode)
        guard file != nil else {
            throw TraceWriteError(path: path, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        out.reserveCapacity(flushAt * 2)
        TraceEncoding.append(header, to: &out)
        try flushIfNeeded(force: true)
    }

    deinit { try? close() }

    public func write(_ event: TraceEvent) throws {
        TraceEncoding.append(event, to: &out)
        try flushIfNeeded(force: false)
    }

    /// Pushes everything written so far to the file (for `record`'s signal handling).
    public func flush() throws {
        try flushIfNeeded(force: true)
        guard let f = file else { return }
        if gzflush(f, Z_SYNC_FLUSH) != Z_OK { throw TraceWriteError(path: path, message: "flush failed") }
    }

    public func close() throws {
        guard let f = file else { return }
        try flushIfNeeded(force: true)
        file = nil
        if gzclose(f) != Z_OK { throw TraceWriteError(path: path, message: "close failed: \(String(cString: strerror(errno)))") }
    }

    private func flushIfNeeded(force: Bool) throws {
        guard !out.isEmpty, force || out.count >= flushAt, let f = file else { return }
        let n = out.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
        if Int(n) != out.count {
            throw TraceWriteError(path: path, message: "write failed: \(String(cString: strerror(errno)))")
        }
        out.removeAll(keepingCapacity: true)
    }
}

/// The contract's field names and spellings, in one place.
public enum TraceEncoding {
    public static func line(_ e: TraceEvent) -> String {
        var b: [UInt8] = []
        append(e, to: &b)
        b.removeLast()
        return String(decoding: b, as: UTF8.self)
    }

    public static func line(_ h: TraceHeader) -> String {
        var b: [UInt8] = []
        append(h, to: &b)
        b.removeLast()
        return String(decoding: b, as: UTF8.self)
    }

    static func append(_ h: TraceHeader, to b: inout [UInt8]) {
        b += #"{"format":"iavf-trace","version":1,"generation":"#.utf8
        str(h.generation?.rawValue ?? "unknown", &b)
        if let k = h.kernel { b += #","kernel":"#.utf8; str(k, &b) }
        b += #","vlan_mode":"#.utf8; str(h.vlanMode.rawValue, &b)
        if let m = h.maxFilters { b += #","max_filters":"#.utf8; int(Int64(m), &b) }
        if let s = h.source { b += #","source":"#.utf8; str(s.rawValue, &b) }
        if h.midStream { b += #","mid_stream":true"#.utf8 }
        b += "}\n".utf8
    }

    static func append(_ e: TraceEvent, to b: inout [UInt8]) {
        b += #"{"seq":"#.utf8; int(e.seq, &b)
        b += #","t_ns":"#.utf8; int(e.tNs, &b)
        b += #","dev":"#.utf8; str(e.dev, &b)
        b += #","ev":"#.utf8; str(e.kind, &b)
        switch e.body {
        case .addVid(let k, let p, let r), .killVid(let k, let p, let r):
            b += #","vid":"#.utf8; int(Int64(k.vid), &b)
            b += #","tpid":"#.utf8; int(Int64(k.tpid), &b)
            phase(p, &b); ret(r, &b)
        case .send(let op, let vids, let r):
            b += #","op":"#.utf8; str(op.name, &b)
            b += #","vids":"#.utf8; keys(vids, &b)
            ret(r, &b)
        case .reply(let op, let rv):
            b += #","op":"#.utf8; str(op.name, &b)
            b += #","retval":"#.utf8; int(Int64(rv), &b)
        case .down(let p), .upComplete(let p), .reset(let p): phase(p, &b)
        case .open(let p, let r), .close(let p, let r): phase(p, &b); ret(r, &b)
        case .snapshot(let fs, let count, let at):
            b += #","filters":["#.utf8
            for (i, f) in fs.enumerated() {
                if i > 0 { b.append(UInt8(ascii: ",")) }
                b += #"{"vid":"#.utf8; int(Int64(f.key.vid), &b)
                b += #","tpid":"#.utf8; int(Int64(f.key.tpid), &b)
                b += #","state":"#.utf8; str(f.state.rawValue, &b)
                b.append(UInt8(ascii: "}"))
            }
            b += #"],"count":"#.utf8; int(Int64(count), &b)
            if let at { b += #","at":"#.utf8; str(at, &b) }
        case .settled(let reason):
            if let reason { b += #","reason":"#.utf8; str(reason, &b) }
        case .lost(let n): b += #","count":"#.utf8; int(n, &b)
        case .mark(let text, let result):
            b += #","text":"#.utf8; str(text, &b)
            if let result { b += #","result":"#.utf8; str(result.rawValue, &b) }
        case .pf(let vids, let port):
            b += #","vids":"#.utf8; keys(vids, &b)
            if let p = port {
                b += #","port":{"pvid":"#.utf8; int(Int64(p.pvid), &b)
                b += #","spoofchk":"#.utf8; b += (p.spoofchk ? "true" : "false").utf8
                b += #","trust":"#.utf8; b += (p.trusted ? "true" : "false").utf8
                b += #","link":"#.utf8; b += (p.linkUp ? "true" : "false").utf8
                b += #","tx":"#.utf8; int(Int64(p.counters.tx), &b)
                b += #","rx":"#.utf8; int(Int64(p.counters.rx), &b)
                b += #","drops":{"#.utf8
                for (i, d) in p.counters.drops.enumerated() {
                    if i > 0 { b.append(UInt8(ascii: ",")) }
                    str(d.name, &b); b.append(UInt8(ascii: ":")); int(Int64(d.count), &b)
                }
                b += "}}".utf8
            }
        case .caps(let m): if let m { b += #","max_filters":"#.utf8; int(Int64(m), &b) }
        case .unknown: break
        }
        b += "}\n".utf8
    }

    private static func phase(_ p: TraceEvent.Phase, _ b: inout [UInt8]) {
        b += #","phase":"#.utf8; str(p.rawValue, &b)
    }

    private static func ret(_ r: Int32?, _ b: inout [UInt8]) {
        if let r { b += #","ret":"#.utf8; int(Int64(r), &b) }
    }

    private static func keys(_ ks: [VlanKey], _ b: inout [UInt8]) {
        b.append(UInt8(ascii: "["))
        for (i, k) in ks.enumerated() {
            if i > 0 { b.append(UInt8(ascii: ",")) }
            b.append(UInt8(ascii: "[")); int(Int64(k.vid), &b)
            b.append(UInt8(ascii: ",")); int(Int64(k.tpid), &b)
            b.append(UInt8(ascii: "]"))
        }
        b.append(UInt8(ascii: "]"))
    }

    static func int(_ v: Int64, _ b: inout [UInt8]) {
        if v == 0 { b.append(0x30); return }
        var x = v.magnitude
        if v < 0 { b.append(UInt8(ascii: "-")) }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { t in
            while x > 0 { t[n] = UInt8(x % 10) + 0x30; x /= 10; n += 1 }
            while n > 0 { n -= 1; b.append(t[n]) }
        }
    }

    /// A JSON string with the escapes RFC 8259 requires.
    public static func str(_ s: String, _ b: inout [UInt8]) {
        b.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): b += #"\""#.utf8
            case UInt8(ascii: "\\"): b += #"\\"#.utf8
            case 0x0a: b += #"\n"#.utf8
            case 0x0d: b += #"\r"#.utf8
            case 0x09: b += #"\t"#.utf8
            case 0..<0x20:
                b += #"\u00"#.utf8
                let hex = Array("0123456789abcdef".utf8)
                b.append(hex[Int(c >> 4)]); b.append(hex[Int(c & 15)])
            default: b.append(c)
            }
        }
        b.append(UInt8(ascii: "\""))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TraceWriteError: ToolError {
    /// A trace that cannot be written is the machine's problem (disk, permissions).
    public var exitStatus: Int32 { ExitStatus.environment }
}
