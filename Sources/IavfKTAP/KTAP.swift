import Foundation

/// KTAP version 1 (the kernel's Documentation/dev-tools/ktap.rst) as kselftest prints it:
/// the one writer and reader of test points in the project (check, suite cases, suite run).

public enum KTAPResult: Sendable, Equatable {
    case ok
    case notOk
    /// `ok N name # SKIP reason`
    case skip(String)
}

/// A KTAP document being written: a version line, a plan, test points with the diagnostic
/// lines before them, optional subtests (indented by four spaces) and a totals line.
public struct KTAPWriter {
    public private(set) var text = ""
    /// Called with each line as it is written (a runner streams its results).
    private let onLine: ((String) -> Void)?
    private let indent: String
    private var number = 0
    public private(set) var pass = 0, fail = 0, skip = 0

    /// `plan`: the number of test points (nil to print the plan later with `plan(_:)`).
    public init(plan: Int? = nil, depth: Int = 0, onLine: ((String) -> Void)? = nil) {
        indent = String(repeating: " ", count: 4 * depth)
        self.onLine = onLine
        emit("KTAP version 1")
        if let plan { self.plan(plan) }
    }

    private mutating func emit(_ line: String) {
        text += indent + line + "\n"
        onLine?(indent + line)
    }

    public mutating func plan(_ count: Int) { emit("1..\(count)") }

    /// `# text` (each line of a multi-line text gets its own `#`).
    public mutating func diagnostic(_ line: String) {
        for l in line.split(separator: "\n", omittingEmptySubsequences: false) { emit("# \(l)") }
    }

    /// A subtest's lines, nested in this document before the test point that sums it up.
    public mutating func subtest(_ name: String, _ body: (inout KTAPWriter) -> Void) {
        var sub = KTAPWriter(depth: indent.count / 4 + 1)
        sub.diagnostic("Subtest: \(name)")
        body(&sub)
        text += sub.text
        if let onLine { for l in sub.text.split(separator: "\n") { onLine(String(l)) } }
    }

    /// The next test point, numbered from 1.
    public mutating func point(_ result: KTAPResult, _ name: String) {
        number += 1
        switch result {
        case .ok: emit("ok \(number) \(name)"); pass += 1
        case .notOk: emit("not ok \(number) \(name)"); fail += 1
        case .skip(let why): emit("ok \(number) \(name) # SKIP \(why)"); skip += 1
        }
    }

    /// kselftest's closing line.
    public mutating func totals() {
        emit("# Totals: pass:\(pass) fail:\(fail) xfail:0 xpass:0 skip:\(skip) error:0")
    }
}

/// Test points read back from KTAP output (what a crashed or interrupted guest printed).
public enum KTAPReader {
    public struct Point: Sendable, Equatable {
        public var number: Int
        public var name: String
        public var result: KTAPResult
        /// The diagnostic line right before the point, without `# `.
        public var comment: String?
    }

    /// Top-level test points (indented subtests are ignored).
    public static func points(_ text: String) -> [Point] {
        var out: [Point] = []
        var comment: Substring?
        for raw in text.split(separator: "\n") {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.hasPrefix("# ") { comment = line.dropFirst(2); continue }
            defer { comment = nil }
            var ok: Bool
            var rest: Substring
            if line.hasPrefix("ok ") { ok = true; rest = line.dropFirst(3) }
            else if line.hasPrefix("not ok ") { ok = false; rest = line.dropFirst(7) }
            else { continue }
            let digits = rest.prefix { $0.isNumber }
            guard let n = Int(digits) else { continue }
            rest = rest.dropFirst(digits.count).drop { $0 == " " }
            var result: KTAPResult = ok ? .ok : .notOk
            if ok, let r = rest.range(of: " # SKIP") {
                result = .skip(String(rest[r.upperBound...].drop { $0 == " " }))
                rest = rest[..<r.lowerBound]
            }
            guard !rest.isEmpty else { continue }
            out.append(Point(number: n, name: String(rest), result: result, comment: comment.map(String.init)))
        }
        return out
    }
}
