import IavfSystem
/// The transition tables as text a reviewer reads against the spec, edits and passes back
/// (`iavf-check model` prints it, `--model FILE` reads it). The built-in generations are
/// parsed from the same text (BuiltInTables.swift), so there is one way a table comes to be.
///
///     # iavf-check model 1 ...           comment lines start with '#'
///     generation: patched                 required: unpatched or patched
///     title: Patched (6.1.176 ...)        a whole table, or
///     delta: what the change is           rows that replace the built-in generation's
///
///     | From | Event | To | Side effects | Spec
///     |------|-------|----|--------------|-----
///     | REMOVE, REMOVING | CfgResp | freed |  | where the row comes from
///
/// From: states of the generation, or (none); To: a state, unchanged, freed, or in a delta
/// (no row). Event and side-effect names are the ones printed. Everything after the table
/// (the adapter-wide effects) is code, printed for reading and not read back.
public struct ModelTable: Sendable {
    public let generation: Generation
    public let title: String
    public let rows: [Transition]
    /// Where the table came from: "built-in", or the file (and whether it was a delta).
    public let source: String
    let compiled: CompiledTable

    public init(generation: Generation, title: String, rows: [Transition], source: String) {
        self.generation = generation
        self.title = title
        self.rows = rows
        self.source = source
        self.compiled = CompiledTable(generation, rows: rows, title: title)
    }

    /// The built-in table of a generation.
    public static func builtIn(_ g: Generation) -> ModelTable { BuiltInTables.tables[g.index] }
}

/// Bad model input: the file, the line and what is wrong (the contract's exit 2).
public struct ModelTextError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

public enum ModelText {
    public static let magic = "# iavf-check model 1"

    // MARK: printing

    public static func render(_ t: ModelTable) -> String {
        var s = magic + " (edit rows, pass the file back with --model FILE; docs/models.md)\n"
        s += "generation: \(t.generation.rawValue)\n"
        s += "title: \(t.title)\n\n"
        var rows: [[String]] = [["From", "Event", "To", "Side effects", "Spec"]]
        for r in t.rows {
            rows.append([r.from.map(\.description).joined(separator: ", "), r.on.name, r.to.description,
                         r.effects.map(\.rawValue).joined(separator: "; "), r.spec])
        }
        s += grid(rows)
        s += "\nAdapter-wide effects (sections 1.5, 2.5, 7; code, printed for reading, not read back):\n\n"
        var dev: [[String]] = [["Event", t.generation == .unpatched ? "Unpatched" : "Patched"]]
        for r in DeviceRules.all { dev.append([r.event, t.generation == .unpatched ? r.unpatched : r.patched]) }
        s += grid(dev)
        return s
    }

    static func grid(_ rows: [[String]]) -> String {
        var widths = Array(repeating: 0, count: rows[0].count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        var s = ""
        for (n, r) in rows.enumerated() {
            let cells = r.enumerated().map { i, c in i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
            s += "| " + cells.joined(separator: " | ") + "\n"
            if n == 0 { s += "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "\n" }
        }
        return s
    }

    // MARK: reading

    /// A whole table, or a delta applied to the built-in table of its generation.
    public static func parse(_ text: String, file: String) throws -> ModelTable {
        var generation: Generation?
        var title: String?, delta: String?
        var parsed: [(line: Int, row: Transition?, from: [FromState], on: Stimulus)] = []
        var inTable = false, header = false
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        func fail(_ n: Int, _ m: String) -> ModelTextError { ModelTextError(file: file, line: n, message: m) }

        for (i, raw) in lines.enumerated() {
            let n = i + 1
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("|") {
                guard let g = generation else { throw fail(n, "the table comes before `generation: unpatched|patched`") }
                guard title != nil || delta != nil else { throw fail(n, "say `title: ...` (a whole table) or `delta: ...` (rows that replace the built-in \(g.rawValue) rows) before the table") }
                inTable = true
                let cells = line.dropFirst().split(separator: "|", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: " \t") }
                if !header {
                    guard cells.first == "From" else { throw fail(n, "the table's first row must be its header: | From | Event | To | Side effects | Spec") }
                    header = true
                    continue
                }
                if cells.allSatisfy({ $0.allSatisfy { $0 == "-" } }) { continue }
                guard cells.count == 5 else { throw fail(n, "a row has 5 cells (From | Event | To | Side effects | Spec), this one has \(cells.count)") }
                let from = try cells[0].split(separator: ",").map { try fromState(String($0).trimmingCharacters(in: " "), g, { fail(n, $0) }) }
                guard !from.isEmpty else { throw fail(n, "From is empty") }
                guard let on = Stimulus.allCases.first(where: { $0.name == cells[1] }) else {
                    throw fail(n, "unknown event '\(cells[1])'; events: \(Stimulus.allCases.map(\.name).joined(separator: "; "))")
                }
                let effects = try cells[3].split(separator: ";").map { name -> Effect in
                    let t = name.trimmingCharacters(in: " ")
                    guard let e = Effect(rawValue: t) else {
                        throw fail(n, "unknown side effect '\(t)'; side effects: \([Effect.addBit, .delBit, .linkAtTail, .inMessage].map(\.rawValue).joined(separator: "; "))")
                    }
                    return e
                }
                guard !cells[4].isEmpty else { throw fail(n, "Spec is empty: say where the row comes from (a spec row, a patch, a finding)") }
                if cells[2] == "(no row)" {
                    guard delta != nil else { throw fail(n, "(no row) only makes sense in a delta") }
                    parsed.append((n, nil, from, on))
                    continue
                }
                let to = try target(cells[2], g, { fail(n, $0) })
                parsed.append((n, Transition(from, on, to, effects, spec: cells[4]), from, on))
                continue
            }
            if inTable { break }   // what follows the table is for reading only
            if line.isEmpty { continue }
            guard let colon = line.firstIndex(of: ":") else { throw fail(n, "expected `key: value` (generation, title or delta) or a table row") }
            let key = line[..<colon].trimmingCharacters(in: " "), value = line[line.index(after: colon)...].trimmingCharacters(in: " ")
            switch key {
            case "generation":
                guard let g = Generation(rawValue: value) else { throw fail(n, "generation '\(value)' is not unpatched or patched") }
                generation = g
            case "title": title = value
            case "delta": delta = value
            default: throw fail(n, "unknown key '\(key)' (generation, title, delta)")
            }
        }
        guard let g = generation else { throw fail(1, "no `generation: unpatched|patched` line: is this an iavf-check model file?") }
        guard title == nil || delta == nil else { throw fail(1, "a file is a whole table (title) or a delta, not both") }
        guard !parsed.isEmpty else { throw fail(lines.count, "no rows: the table is missing") }

        var rows: [Transition]
        if let delta {
            rows = ModelTable.builtIn(g).rows
            for p in parsed {
                var first: Int?
                for f in p.from {
                    guard let i = rows.firstIndex(where: { $0.on == p.on && $0.from.contains(f) }) else {
                        throw fail(p.line, "the built-in \(g.rawValue) table has no row for \(f) on \(p.on.name): a delta changes rows; write a whole table (title:) to add one")
                    }
                    let old = rows[i]
                    let rest = old.from.filter { $0 != f }
                    if rest.isEmpty { rows.remove(at: i) } else { rows[i] = Transition(rest, old.on, old.to, old.effects, spec: old.spec) }
                    first = min(first ?? i, i)
                }
                if let r = p.row { rows.insert(r, at: min(first ?? rows.count, rows.count)) }
            }
            return ModelTable(generation: g, title: ModelTable.builtIn(g).title + "; delta: " + delta,
                              rows: rows, source: "\(file) (delta on the built-in \(g.rawValue) table)")
        }
        rows = parsed.compactMap(\.row)
        var seen: [String: Int] = [:]
        for p in parsed {
            for f in p.from {
                let k = "\(f) \(p.on.name)"
                if let other = seen[k] { throw fail(p.line, "a second row for \(f) on \(p.on.name) (the first is on line \(other))") }
                seen[k] = p.line
            }
        }
        return ModelTable(generation: g, title: title ?? "", rows: rows, source: file)
    }

    private static func fromState(_ s: String, _ g: Generation, _ fail: (String) -> ModelTextError) throws -> FromState {
        if s == "(none)" { return .absent }
        return .state(try state(s, g, fail))
    }

    private static func target(_ s: String, _ g: Generation, _ fail: (String) -> ModelTextError) throws -> Target {
        switch s {
        case "unchanged": return .unchanged
        case "freed": return .freed
        default: return .state(try state(s, g, fail))
        }
    }

    private static func state(_ s: String, _ g: Generation, _ fail: (String) -> ModelTextError) throws -> FilterState {
        let own = TransitionTable.states(g)
        guard let st = FilterState(rawValue: s), own.contains(st) else {
            throw fail("'\(s)' is not a state of the \(g.rawValue) driver (\(own.map(\.rawValue).joined(separator: ", ")))")
        }
        return st
    }
}

extension StringProtocol {
    /// By index from both ends: the built-in tables are parsed at every start of the tool,
    /// and trimming through reversed copies cost more than checking a small trace.
    func trimmingCharacters(in set: String) -> String {
        var lo = startIndex, hi = endIndex
        while lo < hi, set.contains(self[lo]) { lo = index(after: lo) }
        while hi > lo, set.contains(self[index(before: hi)]) { hi = index(before: hi) }
        return String(self[lo..<hi])
    }
}

extension ModelTextError: ToolError {
    public var exitStatus: Int32 { ExitStatus.badInput }
}
