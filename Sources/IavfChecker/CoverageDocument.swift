import Foundation
import IavfModel
import IavfTrace

/// `iavf-check coverage TRACE...`: each trace's verdict and the coverage of all of them
/// merged (one entry per table: traces of different generations stay apart).
/// docs/coverage.md describes the fields.
public struct CoverageDocument: Codable, Sendable, Equatable {
    public struct Trace: Codable, Sendable, Equatable {
        public var trace: String
        public var generation: String
        public var verdict: Verdict
        public var events: Int
        /// Rows of its table this trace hit (alone).
        public var rowsHit: Int

        enum CodingKeys: String, CodingKey {
            case trace, generation, verdict, events
            case rowsHit = "rows_hit"
        }
    }

    public var traces: [Trace]
    public var coverage: ModelCoverage

    public init(traces: [Trace] = [], coverage: ModelCoverage = ModelCoverage()) {
        self.traces = traces
        self.coverage = coverage
    }

    /// Adds a checked trace: its line, and its coverage merged into the rest.
    public mutating func add(_ r: CheckReport, trace: String) {
        traces.append(Trace(trace: trace, generation: r.header.generation?.rawValue ?? "unknown", verdict: r.verdict,
                            events: r.events, rowsHit: r.coverage.tables.reduce(0) { $0 + $1.rowsHit }))
        coverage.merge(r.coverage)
    }

    /// For people: a line per trace, then the merged coverage per table.
    public func text() -> String {
        var s = ""
        func pad(_ x: String, _ w: Int) -> String { x + String(repeating: " ", count: max(0, w - x.count)) }
        let w = traces.map(\.trace.count).max() ?? 0
        let wg = traces.map(\.generation.count).max() ?? 0
        let wv = traces.map(\.verdict.rawValue.count).max() ?? 0
        for t in traces {
            s += pad(t.trace, w) + "  " + pad(t.generation, wg) + "  " + pad(t.verdict.rawValue, wv)
                + "  \(t.events) events, \(t.rowsHit) rows hit\n"
        }
        if !traces.isEmpty { s += "\n" }
        return s + coverage.text()
    }

    /// Reads and checks one trace for its coverage: `table` is followed when it is of the
    /// trace's generation, else the built-in table is. Bad input throws `TraceReadError`.
    public static func check(path: String, table: ModelTable? = nil,
                             warn: (String) -> Void = { _ in }) throws -> CheckReport {
        try CheckRun.check(path: path, table: table, otherGenerations: .builtIn, warn: warn)
    }

    public func encoded() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! e.encode(self), as: UTF8.self) + "\n"
    }

    public static func decode(_ data: Data) throws -> CoverageDocument {
        try JSONDecoder().decode(CoverageDocument.self, from: data)
    }
}
