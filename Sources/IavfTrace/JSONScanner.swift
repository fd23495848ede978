/// A byte-level scanner for the flat JSON objects of one trace line. It decodes straight
/// into the fields the contract names and skips the rest, so reading costs no dictionary
/// per line (the checker must keep up with a ring buffer's millions of events a second).

struct ScanError: Error {
    var field: String?
    var message: String
}

/// A string value as it sits in the line: `raw` points into the line's bytes.
struct RawString {
    var raw: UnsafeRawBufferPointer
    var hasEscapes: Bool

    @inline(__always)
    func equals(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard !hasEscapes, raw.count == n else { return false }
        // Keys and enum names are short: a byte loop beats a call to memcmp.
        let a = raw.baseAddress!.assumingMemoryBound(to: UInt8.self), b = s.utf8Start
        var i = 0
        while i < n { if a[i] != b[i] { return false }; i += 1 }
        return true
    }
}

struct JSONScanner {
    private let base: UnsafePointer<UInt8>
    private let end: Int
    private(set) var i = 0
    /// The field being decoded, for error messages (static: set per key on the hot path).
    var field: StaticString?

    init(_ line: UnsafeRawBufferPointer) {
        base = line.baseAddress!.assumingMemoryBound(to: UInt8.self)
        end = line.count
    }

    func fail(_ message: String) -> ScanError { ScanError(field: field.map { "\($0)" }, message: message) }

    var atEnd: Bool { i >= end }

    mutating func skipWhitespace() {
        while i < end {
            let c = base[i]
            if c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a { i += 1 } else { return }
        }
    }

    @inline(__always)
    mutating func peek() -> UInt8? {
        if i < end, base[i] > 0x20 { return base[i] }
        skipWhitespace()
        return i < end ? base[i] : nil
    }

    @inline(__always)
    mutating func expect(_ c: UInt8, _ what: StaticString) throws {
        if i < end && base[i] == c { i += 1; return }   // no whitespace: the common case
        guard peek() == c else {
            throw fail(i < end ? "expected \(what), found \(describe(base[i]))" : "expected \(what), found the end of the line")
        }
        i += 1
    }

    private func describe(_ c: UInt8) -> String {
        switch c {
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return "a number"
        default:
            if c >= 0x20 && c < 0x7f { return "'\(Character(Unicode.Scalar(c)))'" }
            return "byte 0x\(String(c, radix: 16))"
        }
    }

    /// Iterates the members of an object: `body` is called with each key, and must consume
    /// the value (decode it or `skipValue`).
    mutating func object(_ body: (inout JSONScanner, RawString) throws -> Void) throws {
        try expect(UInt8(ascii: "{"), "an object")
        if peek() == UInt8(ascii: "}") { i += 1; return }
        while true {
            let saved = field
            field = nil
            let key = try rawString()
            try expect(UInt8(ascii: ":"), "':' after a key")
            // Inside a field's value, errors name that field; top-level keys set their own.
            field = saved
            try body(&self, key)
            field = saved
            guard let c = peek() else { throw fail("object not closed: the line ends inside it") }
            i += 1
            if c == UInt8(ascii: "}") { return }
            guard c == UInt8(ascii: ",") else { throw fail("expected ',' or '}' in an object, found \(describe(c))") }
        }
    }

    /// Iterates the elements of an array.
    mutating func array(_ body: (inout JSONScanner) throws -> Void) throws {
        try expect(UInt8(ascii: "["), "an array")
        if peek() == UInt8(ascii: "]") { i += 1; return }
        while true {
            try body(&self)
            guard let c = peek() else { throw fail("array not closed: the line ends inside it") }
            i += 1
            if c == UInt8(ascii: "]") { return }
            guard c == UInt8(ascii: ",") else { throw fail("expected ',' or ']' in an array, found \(describe(c))") }
        }
    }

    mutating func rawString() throws -> RawString {
        try expect(UInt8(ascii: "\""), "a string")
        let start = i
        var escapes = false
        // Keys and values are short: a byte loop beats a memchr call per string.
        var k = i
        while k < end {
            let c = base[k]
            if c == 0x22 {
                i = k + 1
                return RawString(raw: UnsafeRawBufferPointer(start: base + start, count: k - start), hasEscapes: escapes)
            }
            if c == 0x5C { escapes = true; k += 2; continue }
            if c < 0x20 { i = k; throw fail("control character in a string") }
            k += 1
        }
        i = end
        throw fail("string not closed: the line ends inside it")
    }

    mutating func string() throws -> String {
        let s = try rawString()
        guard s.hasEscapes else {
            guard let v = String(validating: s.raw, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
            return v
        }
        return try unescape(s.raw)
    }

    private func unescape(_ raw: UnsafeRawBufferPointer) throws -> String {
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var k = 0
        while k < raw.count {
            let c = raw[k]
            guard c == UInt8(ascii: "\\") else { out.append(c); k += 1; continue }
            guard k + 1 < raw.count else { throw fail("bad escape in a string") }
            let e = raw[k + 1]
            k += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard k + 4 <= raw.count, let u = UInt32(String(decoding: raw[k..<k + 4], as: UTF8.self), radix: 16)
                else { throw fail("bad \\u escape in a string") }
                k += 4
                var scalar = u
                if (0xD800...0xDBFF).contains(u) {
                    guard k + 6 <= raw.count, raw[k] == UInt8(ascii: "\\"), raw[k + 1] == UInt8(ascii: "u"),
                          let lo = UInt32(String(decoding: raw[k + 2..<k + 6], as: UTF8.self), radix: 16),
                          (0xDC00...0xDFFF).contains(lo)
                    else { throw fail("unpaired surrogate in a string") }
                    k += 6
                    scalar = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                }
                guard let us = Unicode.Scalar(scalar) else { throw fail("bad \\u escape in a string") }
                out.append(contentsOf: Array(String(us).utf8))
            default: throw fail("bad escape in a string")
            }
        }
        guard let v = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return v
    }

    /// An integer that fits Int64; fractions, exponents and overflow are errors.
    mutating func int() throws -> Int64 {
        if i < end, base[i] == 0x20 || base[i] == 0x09 { skipWhitespace() }
        guard i < end else { throw fail("expected an integer, found the end of the line") }
        let c = base[i]
        guard c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) else { throw fail("expected an integer, found \(describe(c))") }
        var neg = false
        if c == UInt8(ascii: "-") { neg = true; i += 1 }
        let start = i
        var v: Int64 = 0
        // Up to 18 digits cannot overflow; check only past that.
        while i < end, i - start < 18, base[i] >= 0x30, base[i] <= 0x39 {
            v = v * 10 + Int64(base[i] - 0x30)
            i += 1
        }
        if neg { v = -v }
        while i < end, base[i] >= 0x30, base[i] <= 0x39 {
            let d = Int64(base[i] - 0x30)
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = neg ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { throw fail("integer out of range") }
            v = s
            i += 1
        }
        if i == start { throw fail("expected an integer, found '-'") }
        if i < end, base[i] == UInt8(ascii: ".") || base[i] == UInt8(ascii: "e") || base[i] == UInt8(ascii: "E") {
            throw fail("expected an integer, found a fraction or exponent")
        }
        return v
    }

    mutating func int(in range: ClosedRange<Int64>) throws -> Int64 {
        let v = try int()
        guard range.contains(v) else { throw fail("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    mutating func bool() throws -> Bool {
        if peek() == UInt8(ascii: "t") { try literal("true"); return true }
        if peek() == UInt8(ascii: "f") { try literal("false"); return false }
        throw fail("expected true or false")
    }

    mutating func isNull() -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try? literal("null")
        return true
    }

    private mutating func literal(_ s: StaticString) throws {
        let n = s.utf8CodeUnitCount
        guard end - i >= n, memcmp(base + i, s.utf8Start, n) == 0 else { throw fail("invalid literal") }
        i += n
    }

    /// Skips any value (depth-limited, so a hostile line cannot exhaust the stack).
    mutating func skipValue(depth: Int = 0) throws {
        guard depth < 64 else { throw fail("nested deeper than 64 levels") }
        guard let c = peek() else { throw fail("expected a value, found the end of the line") }
        switch c {
        case UInt8(ascii: "\""): _ = try rawString()
        case UInt8(ascii: "{"): try object { s, _ in try s.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): try array { s in try s.skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            while i < end, let ch = Optional(base[i]),
                  ch == UInt8(ascii: "-") || ch == UInt8(ascii: "+") || ch == UInt8(ascii: ".") ||
                  ch == UInt8(ascii: "e") || ch == UInt8(ascii: "E") || (ch >= 0x30 && ch <= 0x39) { i += 1 }
        default: throw fail("expected a value, found \(describe(c))")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
