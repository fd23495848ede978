import IavfModel
import IavfTrace

/// Reading and checking a whole file: shared by `check` and `bench replay`.
public enum CheckRun {
    /// `table`: follow this table; a trace of another generation is bad input unless
    /// `otherGenerations` is `.builtIn` (then its generation's built-in table is followed:
    /// `coverage` over traces of both generations).
    public enum OtherGenerations: Sendable { case refuse, builtIn }

    public static func check(path: String, table: ModelTable? = nil, otherGenerations: OtherGenerations = .refuse,
                             context: Int = 6, maxFindings: Int = 10_000, threads: Int? = nil,
                             warn: (String) -> Void = { _ in }) throws -> CheckReport {
        let reader = try TraceReader(path: path)
        var table = table
        if let t = table, reader.header.generation != t.generation, otherGenerations == .builtIn { table = nil }
        if let t = table, reader.header.generation != t.generation {
            throw TraceReadError(file: path, line: 1, field: "generation",
                                 message: "the trace is \(reader.header.generation?.rawValue ?? "unknown") but the model (\(t.source)) is a \(t.generation.rawValue) table")
        }
        let checker = Checker(header: reader.header, table: table, contextDepth: context, maxStoredFindings: maxFindings)
        if (threads ?? defaultThreads) >= 2, let batches = DecodedBatches(reader) {
            // Decoding on a thread of its own, checking on this one.
            defer { batches.finish() }
            while true {
                let b = batches.next()
                for j in 0..<b.events.count {
                    b.events.feed(j) { checker.feed($0) }
                    if let refused = checker.refusal {
                        throw TraceReadError(file: path, line: b.events.lines[j], field: refused.field, message: refused.message)
                    }
                }
                batches.recycle(b.events)
                if let error = b.error { throw error }
                if b.last { break }
            }
            batches.finish()
        } else {
            while let e = try reader.next() {
                checker.feed(e)
                if let refused = checker.refusal {
                    throw TraceReadError(file: path, line: reader.line, field: refused.field, message: refused.message)
                }
            }
        }
        for (kind, n) in reader.unknownKinds.sorted(by: { $0.key < $1.key }) {
            warn("iavf-check: warning: \(path): skipped \(n) event\(n == 1 ? "" : "s") of unknown kind '\(kind)'")
        }
        return checker.finish()
    }

    /// Threads `check` uses unless told: two (decode, check) when the machine has two
    /// processors online, else one.
    public static var defaultThreads: Int {
        sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 ? 2 : 1
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
